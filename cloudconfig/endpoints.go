package cloudconfig

import "github.com/nctalk/nctalk/talk"

// Endpoints is where Nextcloud and clients reach the backend these settings
// describe: by Domain, and with turnOn443 TURN over TLS on 443 by TURNName.
func (s Settings) Endpoints() talk.Endpoints {
	e := talk.Endpoints{Domain: s.Domain}
	if s.TURNOn443 {
		e.TURNName = s.TURNName()
	}
	return e
}
