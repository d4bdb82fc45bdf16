package previewsummary

import (
	"fmt"
	"strings"
)

// opTitles are the headings of the operation groups.
var opTitles = map[string]string{
	groupReplace: "To replace",
	groupDelete:  "To delete",
	groupCreate:  "To create",
	groupUpdate:  "To update in place",
}

// Markdown renders the summary as a pull-request comment, starting with
// Marker(Stack).
func (s Summary) Markdown() string {
	var b strings.Builder
	b.WriteString(marker(s.Stack) + "\n")
	fmt.Fprintf(&b, "### nctalk preview: stack %s\n\n", code(s.Stack))

	for _, a := range s.Alerts {
		writeAlert(&b, a)
	}
	if s.Errors > 0 {
		fmt.Fprintf(&b, "> [!WARNING]\n> The preview reported %d error(s); the workflow log has them.\n\n", s.Errors)
	}
	if s.Warnings > 0 {
		fmt.Fprintf(&b, "The preview reported %d warning(s); the workflow log has them.\n\n", s.Warnings)
	}

	if len(s.Groups) == 0 && (s.Box.State == boxInPlace || s.Box.State == boxUnknown) {
		fmt.Fprintf(&b, "**No resource changes;** the running box takes the change (below). %d unchanged.\n\n", s.Unchanged)
	} else if len(s.Groups) == 0 {
		fmt.Fprintf(&b, "**No resource changes.** %d unchanged.\n\n", s.Unchanged)
	} else {
		counts := make([]string, 0, len(s.Groups)+1)
		for _, g := range s.Groups {
			counts = append(counts, fmt.Sprintf("%d to %s", len(g.Resources), g.Op))
		}
		counts = append(counts, fmt.Sprintf("%d unchanged", s.Unchanged))
		fmt.Fprintf(&b, "**Resources:** %s\n\n", strings.Join(counts, " · "))
		for _, g := range s.Groups {
			title, ok := opTitles[g.Op]
			if !ok {
				title = "To " + g.Op
			}
			fmt.Fprintf(&b, "**%s (%d)**\n", title, len(g.Resources))
			for _, r := range g.Resources {
				fmt.Fprintf(&b, "- %s %s", code(r.Name), code(r.Type))
				if len(r.Reasons) > 0 {
					fmt.Fprintf(&b, " — because of %s", codeList(r.Reasons))
				}
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("#### On the box\n\n")
	writeBox(&b, s.Box)
	writeDrains(&b, s.Drains)
	b.WriteString("#### Cloud-config on the VM (secrets redacted)\n\n")
	writeCloudConfig(&b, s.CloudConfig)
	return b.String()
}

// writeBox writes what the running box does.
func writeBox(b *strings.Builder, c BoxChange) {
	switch c.State {
	case boxUnchanged:
		b.WriteString("No command reaches the running box.\n\n")
	case boxInPlace:
		fmt.Fprintf(b, "**In place:** %s. No reboot; the addresses, the volume and the certificate stay.\n\n", c.Words)
	case boxUnknown:
		b.WriteString("**In place**, with values this update creates (a rotated secret, a new key): the box reports what it reloads or restarts during the update.\n\n")
	case boxNew:
		b.WriteString("A new server boots the current settings; the stack then checks its files over SSH.\n\n")
	default:
		b.WriteString("Not listed: run `pulumi preview --json --show-sames`, which lists the unchanged steps too.\n\n")
	}
}

// writeDrains writes what happens to each media server the update
// removes: signaling stops placing calls there (the main box's change),
// the box drains, then its resources are deleted.
func writeDrains(b *strings.Builder, drains []Drain) {
	for _, d := range drains {
		bound := "until they end"
		if d.Minutes > 0 {
			bound = fmt.Sprintf("up to %d min", d.Minutes)
		}
		fmt.Fprintf(b, "- %s: drains (no new calls; its calls go on %s), then deleted\n", code(d.Name), bound)
	}
	if len(drains) > 0 {
		b.WriteString("\n")
	}
}

// writeAlert writes one loud line.
func writeAlert(b *strings.Builder, a Alert) {
	r := a.Resource
	because := ""
	if len(r.Reasons) > 0 {
		because = " Because of: " + codeList(r.Reasons) + "."
	}
	switch {
	case r.Type == serverType && a.Op == groupReplace:
		fmt.Fprintf(b, "> [!CAUTION]\n> 🚨 **THE SERVER WILL BE REPLACED:** %s is deleted and created anew. "+
			"That is minutes of downtime: every running call drops and the VM boots from scratch.%s\n\n", code(r.Name), because)
	case r.Type == serverType && a.Op == groupDelete:
		fmt.Fprintf(b, "> [!CAUTION]\n> 🚨 **THE SERVER WILL BE DELETED:** %s. The backend is gone until it is created again.\n\n", code(r.Name))
	case r.Type == serverType:
		fmt.Fprintf(b, "> [!WARNING]\n> **The server will be powered off** to change its type (a reboot): %s keeps its disk and addresses, "+
			"but running calls drop while it restarts.%s\n\n", code(r.Name), because)
	case a.Op == groupReplace:
		fmt.Fprintf(b, "> [!WARNING]\n> **A public IP address will be replaced:** %s gets a new address; "+
			"DNS records and Nextcloud's TURN/STUN settings must follow.%s\n\n", code(r.Name), because)
	default:
		fmt.Fprintf(b, "> [!WARNING]\n> **A public IP address will be deleted:** %s; the address is given back to Hetzner.\n\n", code(r.Name))
	}
}

// writeCloudConfig writes the cloud-config section.
func writeCloudConfig(b *strings.Builder, c CloudConfigChange) {
	switch c.State {
	case cloudConfigUnchanged:
		fmt.Fprintf(b, "Unchanged (%d lines).\n", c.Lines)
	case cloudConfigSecret:
		b.WriteString("Not shown: the stack exports `cloudConfigRedacted` as a secret. " +
			"It is redacted already; the program should export it with `pulumi.Unsecret` so previews can show it.\n")
	case cloudConfigUnknown:
		b.WriteString("Not known before the update: it depends on values this update creates.\n")
	case cloudConfigNotListed:
		b.WriteString("Not available: the preview lists no step of the component that holds `cloudConfigRedacted`. " +
			"`pulumi preview --json` leaves unchanged steps out: run it with `--show-sames` (and `--save-plan plan.json`, " +
			"then `nctalk preview-summary --plan plan.json`).\n")
	case cloudConfigMissing:
		b.WriteString("Not available: the preview carries no new `cloudConfigRedacted` output. " +
			"Pass the update plan of the same preview (`pulumi preview --save-plan plan.json`, then " +
			"`nctalk preview-summary --plan plan.json`).\n")
	case cloudConfigChanged:
		what := fmt.Sprintf("%d line(s) added, %d removed", c.Added, c.Removed)
		if c.Created {
			what = fmt.Sprintf("new, %d lines", c.Lines)
		}
		fmt.Fprintf(b, "<details open><summary>Changed: %s. The running box takes it in place (see above); a new server boots it.</summary>\n\n", what)
		fence := fenceFor(c.Diff)
		fmt.Fprintf(b, "%sdiff\n%s%s\n", fence, c.Diff, fence)
		if c.Truncated {
			b.WriteString("\nThe diff is cut here to fit the comment; `pulumi preview --diff` shows all of it.\n")
		}
		b.WriteString("\n</details>\n")
	}
}

// code formats s as inline code that cannot break out of its span or line.
func code(s string) string {
	s = strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s)
	return "`" + s + "`"
}

// codeList formats names as a comma-separated list of inline code.
func codeList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = code(n)
	}
	return strings.Join(out, ", ")
}

// fenceFor returns a backtick fence longer than any backtick run in text.
func fenceFor(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}
