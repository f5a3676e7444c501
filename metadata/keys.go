package metadata

import (
	"errors"
	"fmt"
	"strings"
)

// This file holds the rules for metadata keys and values (SPEC.md,
// "Requests").

// IsBinKey reports whether k names a binary header, whose values travel
// base64-encoded: it ends in "-bin".
func IsBinKey(k string) bool {
	return strings.HasSuffix(k, "-bin")
}

// reservedKeys are the transport's own headers. They are matched without
// regard to case.
var reservedKeys = [...]string{
	"content-type",
	"te",
	"user-agent",
	"host",
	"connection",
	"keep-alive",
	"proxy-connection",
	"transfer-encoding",
	"upgrade",
}

// IsReserved reports whether k belongs to the transport rather than the
// application: a pseudo-header (leading ':'), any key starting with "grpc-",
// or one of the transport's own headers content-type, te, user-agent, host,
// connection, keep-alive, proxy-connection, transfer-encoding and upgrade.
// Case does not matter. Reserved keys are never handed to the application as
// metadata, and are refused when the application tries to send them.
func IsReserved(k string) bool {
	if strings.HasPrefix(k, ":") {
		return true
	}
	if len(k) >= len("grpc-") && strings.EqualFold(k[:len("grpc-")], "grpc-") {
		return true
	}
	for _, r := range reservedKeys {
		if strings.EqualFold(k, r) {
			return true
		}
	}
	return false
}

// ValidKey reports, as a nil error, whether k may be sent as application
// metadata: it is not empty, holds only the bytes 0-9 a-z _ . -, and is not
// reserved ([IsReserved]). The error names the key and the reason.
func ValidKey(k string) error {
	if k == "" {
		return errors.New("metadata: empty key")
	}
	if IsReserved(k) {
		return fmt.Errorf("metadata: key %q is reserved for the transport", k)
	}
	for i := 0; i < len(k); i++ {
		if !validKeyByte(k[i]) {
			return fmt.Errorf("metadata: key %q has byte %#02x at offset %d; keys may hold only 0-9 a-z _ . -",
				k, k[i], i)
		}
	}
	return nil
}

func validKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// ValidValue reports, as a nil error, whether v may be sent as the value of
// a key that does not end in "-bin": it must hold printable ASCII only
// (0x20..0x7E). Values of "-bin" keys may hold any bytes and need no check.
func ValidValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7E {
			return fmt.Errorf("metadata: value has byte %#02x at offset %d; values of non -bin keys must be printable ASCII",
				c, i)
		}
	}
	return nil
}

// Validate checks every key and value of md as the sender does before it
// writes them: [ValidKey] for every key, [ValidValue] for every value of a
// key that does not end in "-bin" (values of "-bin" keys may be any bytes).
// When several keys fail, the error is about the smallest of them, so the
// result does not depend on map order.
func (md MD) Validate() error {
	var (
		badKey string
		badErr error
	)
	for k, vals := range md {
		if badErr != nil && k >= badKey {
			continue
		}
		if err := validateKey(k, vals); err != nil {
			badKey, badErr = k, err
		}
	}
	return badErr
}

func validateKey(k string, vals []string) error {
	if err := ValidKey(k); err != nil {
		return err
	}
	if IsBinKey(k) {
		return nil
	}
	for i, v := range vals {
		if err := ValidValue(v); err != nil {
			return fmt.Errorf("metadata: key %q, value %d: %w", k, i, err)
		}
	}
	return nil
}
