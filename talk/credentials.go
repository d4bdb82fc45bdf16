package talk

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"
)

// TURNCredentials derives TURN REST credentials from the TURN secret, as
// Nextcloud and the signaling server hand them to clients and as coturn's
// use-auth-secret checks them: username "<unix expiry>:<user>", password
// base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret, user string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + user
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// BackendChecksum is the Spreed-Signaling-Checksum of a request between
// Nextcloud and the signaling server: hex(HMAC-SHA256(secret, random + body)),
// with the signaling secret and the request's Spreed-Signaling-Random.
func BackendChecksum(secret, random string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(random))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
