package infra

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/schema"
)

// checkCatalogue asks Hetzner, through the provider's look-ups
// (getLocations, getServerTypes, getImage), whether the configured
// location, server type and image can be created now. It runs in every
// preview, before anything is registered, so a withdrawn or misspelt value
// fails the preview instead of the create. Each problem names its key, the
// reason (unknown, deprecated, not offered in the location) and what
// Hetzner offers instead.
func checkCatalogue(ctx *pulumi.Context, cfg config.Config) error {
	locs, err := hcloud.GetLocations(ctx)
	if err != nil {
		return fmt.Errorf("%s:%s: asking Hetzner for its locations: %w", schema.Namespace, schema.KeyLocation, err)
	}
	var locNames []string
	for _, l := range locs.Locations {
		locNames = append(locNames, l.Name)
	}
	slices.Sort(locNames)
	if !slices.Contains(locNames, cfg.Location) {
		return config.KeyErrorf(schema.KeyLocation, "%q is not a Hetzner location; Hetzner offers %s", cfg.Location, strings.Join(locNames, ", "))
	}

	types, err := hcloud.GetServerTypes(ctx)
	if err != nil {
		return fmt.Errorf("%s:%s: asking Hetzner for its server types: %w", schema.Namespace, schema.KeyServerType, err)
	}
	st, err := pickServerType(types.ServerTypes, cfg.ServerType, cfg.Location)
	if err != nil {
		return err
	}
	if err := checkImage(ctx, cfg.Image, st.Architecture); err != nil {
		return err
	}
	return checkDNSZone(ctx, cfg.DNSZone)
}

// offeredIn returns the names of the server types that can be created in
// location now (listed there, not deprecated, available), in Hetzner's
// order (by ID, cheapest first within a family).
func offeredIn(types []hcloud.GetServerTypesServerType, location string) []string {
	var names []string
	for _, t := range types {
		if l, ok := typeLocation(t, location); ok && !l.IsDeprecated && l.Available {
			names = append(names, t.Name)
		}
	}
	return names
}

func typeLocation(t hcloud.GetServerTypesServerType, location string) (hcloud.GetServerTypesServerTypeLocation, bool) {
	for _, l := range t.Locations {
		if l.Name == location {
			return l, true
		}
	}
	return hcloud.GetServerTypesServerTypeLocation{}, false
}

// pickServerType finds name in Hetzner's list and checks it can be created
// in location.
func pickServerType(types []hcloud.GetServerTypesServerType, name, location string) (hcloud.GetServerTypesServerType, error) {
	current := strings.Join(offeredIn(types, location), ", ")
	i := slices.IndexFunc(types, func(t hcloud.GetServerTypesServerType) bool { return t.Name == name })
	if i < 0 {
		return hcloud.GetServerTypesServerType{}, config.KeyErrorf(schema.KeyServerType, "%q is unknown to Hetzner; current types in %s: %s", name, location, current)
	}
	t := types[i]
	l, listed := typeLocation(t, location)
	// Deprecation is read per location: the type-wide fields are being
	// phased out by Hetzner (pulumi-hcloud marks them deprecated).
	var where []string
	for _, l := range t.Locations {
		if !l.IsDeprecated {
			where = append(where, l.Name)
		}
	}
	slices.Sort(where)
	switch {
	case listed && l.IsDeprecated:
		when := ""
		if l.UnavailableAfter != "" {
			when = " (cannot be created after " + l.UnavailableAfter + ")"
		}
		return t, config.KeyErrorf(schema.KeyServerType, "%q is deprecated by Hetzner%s; current types in %s: %s", name, when, location, current)
	case len(where) == 0:
		return t, config.KeyErrorf(schema.KeyServerType, "%q is deprecated by Hetzner (offered in no location); current types in %s: %s", name, location, current)
	case !listed:
		return t, config.KeyErrorf(schema.KeyServerType, "%q is not offered in %s:%s %s (it is in %s); current types in %s: %s",
			name, schema.Namespace, schema.KeyLocation, location, strings.Join(where, ", "), location, current)
	case !l.Available:
		return t, config.KeyErrorf(schema.KeyServerType, "%q is temporarily unavailable in %s; current types in %s: %s", name, location, location, current)
	}
	return t, nil
}

// checkImage looks the image up for the server type's architecture: by
// name (debian-13), or by ID for a snapshot.
func checkImage(ctx *pulumi.Context, image, arch string) error {
	// Deprecated images are included so that the answer can say
	// "deprecated" rather than "unknown".
	includeDeprecated := true
	args := &hcloud.GetImageArgs{WithArchitecture: &arch, IncludeDeprecated: &includeDeprecated}
	if id, err := strconv.Atoi(image); err == nil {
		args.Id = &id
	} else {
		args.Name = &image
		mostRecent := true
		args.MostRecent = &mostRecent
	}
	img, err := hcloud.GetImage(ctx, args)
	if err != nil {
		return config.KeyErrorf(schema.KeyImage, "%q is unknown to Hetzner for %s servers (%v); %s", image, arch, err, imageAlternatives(ctx, arch))
	}
	if img.Deprecated != "" {
		return config.KeyErrorf(schema.KeyImage, "%q is deprecated by Hetzner (since %s); %s", image, img.Deprecated, imageAlternatives(ctx, arch))
	}
	return nil
}

// imageAlternatives names the current Debian images for arch.
func imageAlternatives(ctx *pulumi.Context, arch string) string {
	res, err := hcloud.GetImages(ctx, &hcloud.GetImagesArgs{WithArchitectures: []string{arch}})
	if err != nil {
		return "want e.g. " + config.Default().Image
	}
	var names []string
	for _, img := range res.Images {
		if img.OsFlavor == "debian" && img.Type == "system" && img.Deprecated == "" {
			names = append(names, img.Name)
		}
	}
	if len(names) == 0 {
		return "want e.g. " + config.Default().Image
	}
	slices.Sort(names)
	return "current Debian images: " + strings.Join(names, ", ")
}

// checkDNSZone looks the zone up in the project's Cloud DNS (getZone)
// before any record is planned. A zone still hosted on the old DNS Console
// is not in the Cloud API until it is migrated; the Cloud API's answer for
// its records is a bare not-found, so the look-up turns it into what to do.
func checkDNSZone(ctx *pulumi.Context, zone string) error {
	if zone == "" {
		return nil
	}
	z, err := hcloud.LookupZone(ctx, &hcloud.LookupZoneArgs{Name: &zone})
	if err != nil {
		if isNotFound(err) {
			return config.KeyErrorf(schema.KeyDNSZone, "zone %q is not in this project's Hetzner DNS (Cloud API). "+
				"A zone still on the old DNS Console (dns.hetzner.com) must first be migrated to the Hetzner Console "+
				"(DNS Console: the zone's migrate action; see https://docs.hetzner.com/networking/dns/migration-to-hetzner-console/process), "+
				"into the project of the API token; or leave %s:%s empty (`pulumi config rm %s:%s`) and create the A and AAAA records by hand from the ipv4/ipv6 outputs (provider said: %v)",
				zone, schema.Namespace, schema.KeyDNSZone, schema.Namespace, schema.KeyDNSZone, err)
		}
		return config.KeyErrorf(schema.KeyDNSZone, "looking up zone %q in Hetzner DNS: %v", zone, err)
	}
	if z.Mode != "" && z.Mode != "primary" {
		return config.KeyErrorf(schema.KeyDNSZone, "zone %q is a %s zone in Hetzner DNS, whose records come from its primary name servers; "+
			"create the A and AAAA records there, and leave %s:%s empty", zone, z.Mode, schema.Namespace, schema.KeyDNSZone)
	}
	return nil
}

// isNotFound matches the provider's not-found answers: the getZone data
// source's "Resource (zone) was not found" and the Cloud API's error code
// not_found (as hcloud-go prints it).
func isNotFound(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "was not found") || strings.Contains(msg, "not_found")
}
