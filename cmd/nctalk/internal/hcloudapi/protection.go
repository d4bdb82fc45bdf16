// Package hcloudapi is the one Hetzner Cloud API call the companion CLI
// makes itself: turning off the delete protection of the resources
// `nctalk teardown --release` deletes, whatever the Pulumi state says of
// them. Everything else goes through Pulumi and its provider.
package hcloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultEndpoint is the Hetzner Cloud API.
const DefaultEndpoint = "https://api.hetzner.cloud/v1"

// Kind is a resource collection with delete protection.
type Kind string

// The kinds teardown --release unprotects.
const (
	PrimaryIPs Kind = "primary_ips"
	Volumes    Kind = "volumes"
)

// Client calls the API with a token.
type Client struct {
	Endpoint, Token string
	HTTP            *http.Client
	// PollInterval is the wait between reads of a running action.
	PollInterval time.Duration
}

// apiError is the API's error body.
type apiError struct {
	Error struct {
		Code, Message string
	} `json:"error"`
}

type action struct {
	Action struct {
		ID     int    `json:"id"`
		Status string `json:"status"`
		Error  *struct {
			Code, Message string
		} `json:"error"`
	} `json:"action"`
}

// Unprotect turns off the delete protection of one resource and waits for
// the action to finish. A resource that is gone already is no error.
func (c Client) Unprotect(ctx context.Context, kind Kind, id string) error {
	var a action
	status, err := c.call(ctx, http.MethodPost, fmt.Sprintf("/%s/%s/actions/change_protection", kind, id), `{"delete":false}`, &a)
	if status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: change_protection: %w", kind, id, err)
	}
	for a.Action.Status == "running" {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: change_protection: %w", kind, id, ctx.Err())
		case <-time.After(c.PollInterval):
		}
		if _, err := c.call(ctx, http.MethodGet, fmt.Sprintf("/actions/%d", a.Action.ID), "", &a); err != nil {
			return fmt.Errorf("%s %s: change_protection: %w", kind, id, err)
		}
	}
	if a.Action.Status != "success" {
		msg := a.Action.Status
		if a.Action.Error != nil {
			msg = a.Action.Error.Code + ": " + a.Action.Error.Message
		}
		return fmt.Errorf("%s %s: change_protection: %s", kind, id, msg)
	}
	return nil
}

// call sends one request and decodes the answer into out. The token is
// never part of an error.
func (c Client) call(ctx context.Context, method, path, body string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Endpoint, "/")+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	h := c.HTTP
	if h == nil {
		h = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := h.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		var e apiError
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return resp.StatusCode, fmt.Errorf("HTTP %d %s: %s", resp.StatusCode, e.Error.Code, e.Error.Message)
		}
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, json.Unmarshal(raw, out)
}
