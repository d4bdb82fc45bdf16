package tests

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/stun/v3"
)

// rawTURN is a minimal TURN client (RFC 5766/6156) over one UDP socket for
// what pion/turn's client cannot ask: an IPv6 relay
// (REQUESTED-ADDRESS-FAMILY). It allocates once and creates permissions.
type rawTURN struct {
	conn      *net.UDPConn
	user      stun.Username
	realm     stun.Realm
	nonce     stun.Nonce
	integrity stun.MessageIntegrity
}

// turnError is a TURN error response.
type turnError struct{ stun.ErrorCodeAttribute }

func (e *turnError) Error() string { return fmt.Sprintf("TURN error %d %s", e.Code, e.Reason) }

// dialRawTURN connects to a TURN server over UDP (udp4 or udp6 by address).
func dialRawTURN(server *net.UDPAddr, user, pass, realm string) (*rawTURN, error) {
	conn, err := net.DialUDP("udp", nil, server)
	if err != nil {
		return nil, err
	}
	return newRawTURN(conn, user, pass, realm), nil
}

// newRawTURN is a client on a connected UDP socket.
func newRawTURN(conn *net.UDPConn, user, pass, realm string) *rawTURN {
	return &rawTURN{conn: conn, user: stun.NewUsername(user), realm: stun.NewRealm(realm),
		integrity: stun.NewLongTermIntegrity(user, realm, pass)}
}

func (c *rawTURN) Close() { _ = c.conn.Close() }

// do sends a request (retransmitted up to 4 times) and returns the response
// with the same transaction ID; an error response is a *turnError.
func (c *rawTURN) do(method stun.Method, attrs ...stun.Setter) (*stun.Message, error) {
	build := func() (*stun.Message, error) {
		setters := append([]stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}, attrs...)
		if c.nonce != nil {
			setters = append(setters, c.user, c.realm, c.nonce, c.integrity)
		}
		return stun.Build(append(setters, stun.Fingerprint)...)
	}
	for attempt := 0; attempt < 2; attempt++ { // second attempt after a 401 (nonce)
		req, err := build()
		if err != nil {
			return nil, err
		}
		res, err := c.roundTrip(req)
		if err != nil {
			return nil, err
		}
		if res.Type.Class == stun.ClassSuccessResponse {
			return res, nil
		}
		var code stun.ErrorCodeAttribute
		if err := code.GetFrom(res); err != nil {
			return nil, fmt.Errorf("error response without ERROR-CODE: %w", err)
		}
		if (code.Code == stun.CodeUnauthorized || code.Code == stun.CodeStaleNonce) && attempt == 0 {
			if err := c.nonce.GetFrom(res); err != nil {
				return nil, err
			}
			if code.Code == stun.CodeUnauthorized {
				_ = c.realm.GetFrom(res)
			}
			continue
		}
		return nil, &turnError{code}
	}
	return nil, errors.New("TURN: still unauthorized after sending credentials")
}

func (c *rawTURN) roundTrip(req *stun.Message) (*stun.Message, error) {
	buf := make([]byte, 1500)
	for try := 0; try < 4; try++ {
		if _, err := c.conn.Write(req.Raw); err != nil {
			return nil, err
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, err := c.conn.Read(buf)
			if err != nil {
				break // timeout: retransmit
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() == nil && res.TransactionID == req.TransactionID {
				return res, nil
			}
		}
	}
	return nil, errors.New("TURN: no response")
}

// rawAttr is an attribute given by type and value.
type rawAttr struct {
	t stun.AttrType
	v []byte
}

func (a rawAttr) AddTo(m *stun.Message) error { m.Add(a.t, a.v); return nil }

// AllocateUDP allocates a UDP relay of the given family (4 or 6) and
// returns the relayed address.
func (c *rawTURN) AllocateUDP(family int) (*net.UDPAddr, error) {
	fam := byte(0x01)
	if family == 6 {
		fam = 0x02
	}
	res, err := c.do(stun.MethodAllocate,
		rawAttr{stun.AttrRequestedTransport, []byte{17, 0, 0, 0}},
		rawAttr{stun.AttrRequestedAddressFamily, []byte{fam, 0, 0, 0}})
	if err != nil {
		return nil, err
	}
	var relayed stun.XORMappedAddress
	if err := relayed.GetFromAs(res, stun.AttrXORRelayedAddress); err != nil {
		return nil, err
	}
	return &net.UDPAddr{IP: relayed.IP, Port: relayed.Port}, nil
}

// CreatePermission asks to relay to peer's address.
func (c *rawTURN) CreatePermission(peer *net.UDPAddr) error {
	_, err := c.do(stun.MethodCreatePermission, peerAttr(peer))
	return err
}

type peerAttrSetter struct{ a stun.XORMappedAddress }

func (p peerAttrSetter) AddTo(m *stun.Message) error { return p.a.AddToAs(m, stun.AttrXORPeerAddress) }

func peerAttr(peer *net.UDPAddr) stun.Setter {
	return peerAttrSetter{stun.XORMappedAddress{IP: peer.IP, Port: peer.Port}}
}

// SendIndication relays data to peer (a Send indication; a permission for
// the peer's address must exist).
func (c *rawTURN) SendIndication(peer *net.UDPAddr, data []byte) error {
	m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication),
		peerAttr(peer), rawAttr{stun.AttrData, data}, stun.Fingerprint)
	if err != nil {
		return err
	}
	_, err = c.conn.Write(m.Raw)
	return err
}
