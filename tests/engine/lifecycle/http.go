package main

import (
	"net/http"
	"strings"
	"time"
)

// client talks to the double on loopback.
var client = &http.Client{Timeout: 30 * time.Second}

// newRequest is a request to the double, with the run's token.
func newRequest(method, url, body string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// mustRequest is newRequest for a constant method and URL.
func mustRequest(method, url, body string) *http.Request {
	req, err := newRequest(method, url, body)
	if err != nil {
		panic(err)
	}
	return req
}

func doRequest(req *http.Request) (*http.Response, error) { return client.Do(req) }
