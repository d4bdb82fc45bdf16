package infratest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Catalogue is the part of Hetzner's catalogue the stack looks up at
// preview time. The mock answers getLocations, getServerTypes, getImage and
// getImages from it with the property names and shapes of pulumi-hcloud
// v1.41.0's result types (GetLocationsResult, GetServerTypesResult,
// GetImageResult, GetImagesResult).
type Catalogue struct {
	Locations   []string
	ServerTypes []ServerType
	Images      []Image
	// Zones are the DNS zones in the project's Cloud DNS, by name, with
	// their mode (primary or secondary).
	Zones map[string]string
}

// ServerType is one entry of getServerTypes.
type ServerType struct {
	ID           int
	Name         string
	Architecture string // x86 or arm
	// Deprecated is the type-wide flag Hetzner is phasing out in favour of
	// the per-location one; both are answered.
	Deprecated bool
	Locations  []TypeLocation
}

// TypeLocation is a server type's entry for one location.
type TypeLocation struct {
	Name             string
	Deprecated       bool
	UnavailableAfter string
	Available        bool
}

// Image is one entry of getImage/getImages.
type Image struct {
	ID           int
	Name         string
	Architecture string
	OsFlavor     string
	Type         string // system, snapshot, backup, app
	Deprecated   string // RFC 3339 time, or ""
}

// defaultCatalogue is a catalogue in the shape of Hetzner's at the end of
// 2026 (docs/configuration.md's date for the offline list, 2026-12-05): current x86
// types cx23/33/43/53 in the EU locations and cpx12–62 everywhere, Arm
// cax11–41 in the EU; the withdrawn cx22/32/42/52 and cpx11–51 still listed,
// deprecated in every location; debian-12/13 for both architectures and a
// deprecated debian-11. IDs are made up.
func defaultCatalogue() Catalogue {
	eu := []string{"fsn1", "hel1", "nbg1"}
	all := []string{"ash", "fsn1", "hel1", "hil", "nbg1", "sin"}
	at := func(names []string, deprecated bool) []TypeLocation {
		var out []TypeLocation
		for _, n := range names {
			l := TypeLocation{Name: n, Available: true, Deprecated: deprecated}
			if deprecated {
				l.UnavailableAfter = "2025-12-31T23:59:59+00:00"
			}
			out = append(out, l)
		}
		return out
	}
	var types []ServerType
	add := func(arch string, where []string, deprecated bool, names ...string) {
		for _, n := range names {
			types = append(types, ServerType{ID: 100 + len(types), Name: n, Architecture: arch, Deprecated: deprecated, Locations: at(where, deprecated)})
		}
	}
	add("x86", eu, true, "cx22", "cx32", "cx42", "cx52")
	add("x86", all, true, "cpx11", "cpx21", "cpx31", "cpx41", "cpx51")
	add("arm", eu, false, "cax11", "cax21", "cax31", "cax41")
	add("x86", eu, false, "cx23", "cx33", "cx43", "cx53")
	add("x86", all, false, "cpx12", "cpx22", "cpx32", "cpx42", "cpx52", "cpx62")
	return Catalogue{
		Locations:   all,
		Zones:       map[string]string{"example.com": "primary", "example.org": "primary"},
		ServerTypes: types,
		Images: []Image{
			{ID: 67794396, Name: "debian-11", Architecture: "x86", OsFlavor: "debian", Type: "system", Deprecated: "2026-08-15T00:00:00+00:00"},
			{ID: 114690387, Name: "debian-12", Architecture: "x86", OsFlavor: "debian", Type: "system"},
			{ID: 114690389, Name: "debian-12", Architecture: "arm", OsFlavor: "debian", Type: "system"},
			{ID: 310557660, Name: "debian-13", Architecture: "x86", OsFlavor: "debian", Type: "system"},
			{ID: 310557661, Name: "debian-13", Architecture: "arm", OsFlavor: "debian", Type: "system"},
			{ID: 161547269, Name: "ubuntu-24.04", Architecture: "x86", OsFlavor: "ubuntu", Type: "system"},
		},
	}
}

func str(s string) resource.PropertyValue { return resource.NewStringProperty(s) }
func num(n int) resource.PropertyValue    { return resource.NewNumberProperty(float64(n)) }

func strs(ss []string) resource.PropertyValue {
	var out []resource.PropertyValue
	for _, s := range ss {
		out = append(out, str(s))
	}
	return resource.NewArrayProperty(out)
}

// locations answers getLocations (GetLocationsResult).
func (c Catalogue) locations() resource.PropertyMap {
	var locs []resource.PropertyValue
	var names, ids []string
	for i, n := range c.Locations {
		locs = append(locs, resource.NewObjectProperty(resource.PropertyMap{
			"id": num(i + 1), "name": str(n), "description": str("Data center " + n),
			"city": str(n), "country": str(countryOf(n)), "networkZone": str("eu-central"),
			"latitude": resource.NewNumberProperty(0), "longitude": resource.NewNumberProperty(0),
		}))
		names = append(names, n)
		ids = append(ids, strconv.Itoa(i+1))
	}
	return resource.PropertyMap{
		"id": str("locations"), "locations": resource.NewArrayProperty(locs),
		"names": strs(names), "locationIds": strs(ids), "descriptions": strs(names),
	}
}

// serverTypes answers getServerTypes (GetServerTypesResult).
func (c Catalogue) serverTypes() resource.PropertyMap {
	var types []resource.PropertyValue
	var names, ids []string
	for _, t := range c.ServerTypes {
		var locs []resource.PropertyValue
		unavailableAfter := ""
		for i, l := range t.Locations {
			locs = append(locs, resource.NewObjectProperty(resource.PropertyMap{
				"id": num(i + 1), "name": str(l.Name), "available": resource.NewBoolProperty(l.Available),
				"isDeprecated": resource.NewBoolProperty(l.Deprecated), "recommended": resource.NewBoolProperty(!l.Deprecated),
				"deprecationAnnounced": str(iff(l.Deprecated, "2025-10-16T00:00:00+00:00")),
				"unavailableAfter":     str(l.UnavailableAfter),
			}))
			unavailableAfter = l.UnavailableAfter
		}
		types = append(types, resource.NewObjectProperty(resource.PropertyMap{
			"id": num(t.ID), "name": str(t.Name), "description": str(t.Name), "architecture": str(t.Architecture),
			"category": str("shared"), "cores": num(2), "cpuType": str("shared"), "memory": num(4), "disk": num(40),
			"storageType": str("local"), "includedTraffic": num(0),
			"isDeprecated":         resource.NewBoolProperty(t.Deprecated),
			"deprecationAnnounced": str(iff(t.Deprecated, "2025-10-16T00:00:00+00:00")),
			"unavailableAfter":     str(iff(t.Deprecated, unavailableAfter)),
			"locations":            resource.NewArrayProperty(locs),
		}))
		names = append(names, t.Name)
		ids = append(ids, strconv.Itoa(t.ID))
	}
	return resource.PropertyMap{
		"id": str("server_types"), "serverTypes": resource.NewArrayProperty(types),
		"names": strs(names), "serverTypeIds": strs(ids), "descriptions": strs(names),
	}
}

func iff(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

func imageProps(img Image) resource.PropertyMap {
	return resource.PropertyMap{
		"id": num(img.ID), "name": str(img.Name), "architecture": str(img.Architecture),
		"osFlavor": str(img.OsFlavor), "osVersion": str(""), "type": str(img.Type),
		"deprecated": str(img.Deprecated), "description": str(img.Name), "created": str("2025-08-01T00:00:00+00:00"),
		"rapidDeploy": resource.NewBoolProperty(img.Type == "system"), "labels": resource.NewObjectProperty(resource.PropertyMap{}),
	}
}

// image answers getImage (GetImageResult) by id or by name and
// withArchitecture; deprecated images only with includeDeprecated, as the
// API lists them. No match is an error, as the provider's data source
// fails when it finds no image.
func (c Catalogue) image(args resource.PropertyMap) (resource.PropertyMap, error) {
	get := func(k string) resource.PropertyValue { return args[resource.PropertyKey(k)] }
	includeDeprecated := get("includeDeprecated").IsBool() && get("includeDeprecated").BoolValue()
	arch := "x86"
	if v := get("withArchitecture"); v.IsString() {
		arch = v.StringValue()
	}
	i := slices.IndexFunc(c.Images, func(img Image) bool {
		if v := get("id"); v.IsNumber() {
			return img.ID == int(v.NumberValue())
		}
		return get("name").IsString() && img.Name == get("name").StringValue() && img.Architecture == arch &&
			(includeDeprecated || img.Deprecated == "")
	})
	if i < 0 {
		return nil, fmt.Errorf("no image found matching the given arguments: %v", args.Mappable())
	}
	out := imageProps(c.Images[i])
	for k, v := range args {
		out[k] = v
	}
	out["id"] = num(c.Images[i].ID)
	out["name"] = str(c.Images[i].Name)
	return out, nil
}

// images answers getImages (GetImagesResult) for withArchitectures.
func (c Catalogue) images(args resource.PropertyMap) resource.PropertyMap {
	var archs []string
	if v := args["withArchitectures"]; v.IsArray() {
		for _, a := range v.ArrayValue() {
			archs = append(archs, a.StringValue())
		}
	}
	includeDeprecated := args["includeDeprecated"].IsBool() && args["includeDeprecated"].BoolValue()
	var imgs []resource.PropertyValue
	for _, img := range c.Images {
		if (len(archs) == 0 || slices.Contains(archs, img.Architecture)) && (includeDeprecated || img.Deprecated == "") {
			imgs = append(imgs, resource.NewObjectProperty(imageProps(img)))
		}
	}
	return resource.PropertyMap{"id": str("images"), "images": resource.NewArrayProperty(imgs)}
}

// zone answers getZone (LookupZoneResult) by name from Zones; an unknown
// name fails with the text of the provider's data source
// (hcloudutil.NotFoundDiagnostic("zone", "name", …) in
// terraform-provider-hcloud's internal/zone/data_source.go), which is what
// a zone still on the old DNS Console (not migrated to the Cloud API)
// gives.
func (c Catalogue) zone(args resource.PropertyMap) (resource.PropertyMap, error) {
	name := ""
	if v := args["name"]; v.IsString() {
		name = v.StringValue()
	}
	mode, ok := c.Zones[name]
	if !ok {
		//lint:ignore ST1005 the provider's own text, capitalised as it prints it
		return nil, fmt.Errorf("Resource not found: Resource (zone) was not found: name=%q", name)
	}
	return resource.PropertyMap{
		"id": num(4242), "name": str(name), "mode": str(mode), "ttl": num(3600),
		"deleteProtection": resource.NewBoolProperty(false), "registrar": str("other"),
		"labels":             resource.NewObjectProperty(resource.PropertyMap{}),
		"primaryNameservers": resource.NewArrayProperty(nil),
		"authoritativeNameservers": resource.NewObjectProperty(resource.PropertyMap{
			"assigneds": strs([]string{"hydrogen.ns.hetzner.com.", "oxygen.ns.hetzner.com.", "helium.ns.hetzner.de."}),
		}),
	}, nil
}

// zones answers getZones (GetZonesResult): every zone of Zones.
func (c Catalogue) zones() resource.PropertyMap {
	var list []resource.PropertyValue
	for _, name := range slices.Sorted(maps.Keys(c.Zones)) {
		z, _ := c.zone(resource.PropertyMap{"name": str(name)})
		list = append(list, resource.NewObjectProperty(z))
	}
	return resource.PropertyMap{"id": str("zones"), "zones": resource.NewArrayProperty(list)}
}

// countries are the countries of Hetzner's locations, as the API's
// location objects give them (derived: the hcloud API double's catalogue,
// which follows the real API's shape; "XX" for a location it lacks).
var countries = map[string]string{"fsn1": "DE", "nbg1": "DE", "hel1": "FI", "ash": "US", "hil": "US", "sin": "SG"}

func countryOf(location string) string {
	if c, ok := countries[location]; ok {
		return c
	}
	return "XX"
}
