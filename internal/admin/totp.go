package admin

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP as every authenticator app expects (RFC 6238): 30 s steps, 6
// digits, SHA-1.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpAlgo   = otp.AlgorithmSHA1
	// totpSkew accepts the step before and after the current one: a phone's
	// clock a little off, or a code typed as it changed.
	totpSkew = 1
)

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: totpAlgo}
}

// enrolment is what the enrolment page shows.
type enrolment struct {
	URI    string
	Secret string
	QR     template.URL // data:image/png;base64,…
}

// newTOTPSecret makes a fresh secret for account.
func newTOTPSecret(issuer, account string) (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: totpPeriod, Digits: totpDigits, Algorithm: totpAlgo,
	})
	if err != nil {
		return "", fmt.Errorf("admin: TOTP secret: %w", err)
	}
	return key.Secret(), nil
}

// enrolmentFor draws the QR code of secret's otpauth:// URI on the server.
func enrolmentFor(issuer, account, secret string) (enrolment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) == 0 {
		return enrolment{}, errors.New("admin: TOTP secret is not base32")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: totpPeriod, Digits: totpDigits, Algorithm: totpAlgo,
		Secret: raw,
	})
	if err != nil {
		return enrolment{}, fmt.Errorf("admin: TOTP key: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return enrolment{}, fmt.Errorf("admin: QR code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return enrolment{}, fmt.Errorf("admin: QR code: %w", err)
	}
	return enrolment{
		URI:    key.URL(),
		Secret: key.Secret(),
		// The data: URI is built here from our own PNG, never from input.
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())),
	}, nil
}

// matchTOTP returns the step whose code equals code (within the skew), or
// 0 when none does. The caller refuses a step not newer than the last one
// accepted, so that a code works once.
func matchTOTP(secret, code string, now time.Time) int64 {
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpPeriod
	var found int64
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts())
		if err != nil {
			return 0
		}
		// Every candidate is compared, in constant time, so timing tells
		// nothing about which one matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = step
		}
	}
	return found
}
