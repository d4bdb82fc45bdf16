package infra

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/schema"
)

// checkCatalogue asks Hetzner, through the provider's list look-ups
// (getLocations, getServerTypes, getImages, getZones, getServers), whether
// the configured location, server type, image and DNS zone can be used. It
// runs in every preview, before anything is registered, so a withdrawn or
// misspelt value fails the preview instead of the create, with one error
// that names its key, the reason and what Hetzner offers instead (list
// look-ups answer an unknown name with an empty list, so no provider error
// precedes the program's). A server type or image that Hetzner withdrew
// after the server was created is no error while the running server keeps
// it: the stack must stay updatable (and `nctalk teardown --release`
// possible) until the admin picks another; a deprecated type that can
// still be ordered only warns.
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
	running, err := runningServer(ctx, cfg.Settings.Domain)
	if err != nil {
		return err
	}

	types, err := hcloud.GetServerTypes(ctx)
	if err != nil {
		return fmt.Errorf("%s:%s: asking Hetzner for its server types: %w", schema.Namespace, schema.KeyServerType, err)
	}
	keeps := running != nil && running.ServerType == cfg.ServerType
	st, warning, err := pickServerType(types.ServerTypes, cfg.ServerType, cfg.Location, keeps)
	if err != nil {
		return err
	}
	if warning != "" {
		_ = ctx.Log.Warn(warning, nil)
	}
	if running == nil || running.Image != cfg.Image {
		if err := checkImage(ctx, cfg.Image, st.Architecture); err != nil {
			return err
		}
	}
	return checkDNSZone(ctx, cfg.DNSZone)
}

// runningServer finds the stack's server (by the labels the stack gives it
// and its name), or nil before it exists.
func runningServer(ctx *pulumi.Context, name string) (*hcloud.GetServersServer, error) {
	selector := "app=nctalk,stack=" + ctx.Stack()
	res, err := hcloud.GetServers(ctx, &hcloud.GetServersArgs{WithSelector: &selector})
	if err != nil {
		return nil, fmt.Errorf("asking Hetzner for the stack's server: %w", err)
	}
	for i, srv := range res.Servers {
		if srv.Name == name {
			return &res.Servers[i], nil
		}
	}
	return nil, nil
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

// pickServerType finds name in Hetzner's list and checks that it can be
// used in location: created, or kept when the running server has it
// (keeps). A deprecated type that can still be ordered gives a warning.
func pickServerType(types []hcloud.GetServerTypesServerType, name, location string, keeps bool) (hcloud.GetServerTypesServerType, string, error) {
	current := strings.Join(offeredIn(types, location), ", ")
	i := slices.IndexFunc(types, func(t hcloud.GetServerTypesServerType) bool { return t.Name == name })
	if i < 0 {
		return hcloud.GetServerTypesServerType{}, "", config.KeyErrorf(schema.KeyServerType, "%q is unknown to Hetzner; current types in %s: %s", name, location, current)
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
	when := ""
	if l.UnavailableAfter != "" {
		when = " (cannot be created after " + l.UnavailableAfter + ")"
	}
	orderable := listed && l.Available && (l.UnavailableAfter == "" || l.UnavailableAfter > time.Now().UTC().Format(time.RFC3339))
	switch {
	case listed && l.IsDeprecated && orderable:
		return t, fmt.Sprintf("%s:%s: %q is deprecated by Hetzner%s; the running server keeps it, a new server can still be created with it; move to one of the current types in %s: %s",
			schema.Namespace, schema.KeyServerType, name, when, location, current), nil
	case keeps && !orderable: // whatever Hetzner withdrew, the running server keeps
		return t, fmt.Sprintf("%s:%s: %q can no longer be ordered in %s; the running server keeps it, but a rebuild needs another type: %s",
			schema.Namespace, schema.KeyServerType, name, location, current), nil
	case listed && l.IsDeprecated:
		return t, "", config.KeyErrorf(schema.KeyServerType, "%q is deprecated by Hetzner%s; current types in %s: %s", name, when, location, current)
	case len(where) == 0:
		return t, "", config.KeyErrorf(schema.KeyServerType, "%q is deprecated by Hetzner (offered in no location); current types in %s: %s", name, location, current)
	case !listed:
		return t, "", config.KeyErrorf(schema.KeyServerType, "%q is not offered in %s:%s %s (it is in %s); current types in %s: %s",
			name, schema.Namespace, schema.KeyLocation, location, strings.Join(where, ", "), location, current)
	case !l.Available:
		return t, "", config.KeyErrorf(schema.KeyServerType, "%q is temporarily unavailable in %s; current types in %s: %s", name, location, location, current)
	}
	return t, "", nil
}

// checkImage looks the image up for the server type's architecture, in
// Hetzner's list: by name (debian-13, the most recent of that name) or by
// ID for a snapshot.
func checkImage(ctx *pulumi.Context, image, arch string) error {
	// Deprecated images are included so that the answer can say
	// "deprecated" rather than "unknown".
	includeDeprecated := true
	res, err := hcloud.GetImages(ctx, &hcloud.GetImagesArgs{WithArchitectures: []string{arch}, IncludeDeprecated: &includeDeprecated})
	if err != nil {
		return fmt.Errorf("%s:%s: asking Hetzner for its images: %w", schema.Namespace, schema.KeyImage, err)
	}
	id, byID := strconv.Atoi(image)
	var found *hcloud.GetImagesImage
	for i, img := range res.Images {
		if (byID == nil && img.Id == id) || (byID != nil && img.Name == image) {
			if found == nil || img.Created > found.Created {
				found = &res.Images[i]
			}
		}
	}
	if found == nil {
		return config.KeyErrorf(schema.KeyImage, "%q is unknown to Hetzner for %s servers; %s", image, arch, imageAlternatives(res.Images))
	}
	if found.Deprecated != "" {
		return config.KeyErrorf(schema.KeyImage, "%q is deprecated by Hetzner (since %s); %s", image, found.Deprecated, imageAlternatives(res.Images))
	}
	return nil
}

// imageAlternatives names the current Debian system images of a list.
func imageAlternatives(images []hcloud.GetImagesImage) string {
	var names []string
	for _, img := range images {
		if img.OsFlavor == "debian" && img.Type == "system" && img.Deprecated == "" && !slices.Contains(names, img.Name) {
			names = append(names, img.Name)
		}
	}
	if len(names) == 0 {
		return "want e.g. " + config.Default().Image
	}
	slices.Sort(names)
	return "current Debian images: " + strings.Join(names, ", ")
}

// checkDNSZone looks the zone up in the project's Cloud DNS (getZones)
// before any record is planned. A zone still hosted on the old DNS Console
// is not in the Cloud API until it is migrated; the Cloud API's answer for
// its records is a bare not-found, so the look-up turns it into what to do.
func checkDNSZone(ctx *pulumi.Context, zone string) error {
	if zone == "" {
		return nil
	}
	res, err := hcloud.GetZones(ctx, &hcloud.GetZonesArgs{})
	if err != nil {
		return config.KeyErrorf(schema.KeyDNSZone, "looking up zone %q in Hetzner DNS: %v", zone, err)
	}
	i := slices.IndexFunc(res.Zones, func(z hcloud.GetZonesZone) bool { return z.Name == zone })
	if i < 0 {
		return config.KeyErrorf(schema.KeyDNSZone, "zone %q is not in this project's Hetzner DNS (Cloud API). "+
			"A zone still on the old DNS Console (dns.hetzner.com) must first be migrated to the Hetzner Console "+
			"(DNS Console: the zone's migrate action; see https://docs.hetzner.com/networking/dns/migration-to-hetzner-console/process), "+
			"into the project of the API token; or leave %s:%s empty (`pulumi config rm %s:%s`) and create the A and AAAA records by hand from the ipv4/ipv6 outputs",
			zone, schema.Namespace, schema.KeyDNSZone, schema.Namespace, schema.KeyDNSZone)
	}
	if z := res.Zones[i]; z.Mode != "" && z.Mode != "primary" {
		return config.KeyErrorf(schema.KeyDNSZone, "zone %q is a %s zone in Hetzner DNS, whose records come from its primary name servers; "+
			"create the A and AAAA records there, and leave %s:%s empty", zone, z.Mode, schema.Namespace, schema.KeyDNSZone)
	}
	return nil
}
