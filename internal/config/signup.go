package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Defaults of the hourly caps on confirmation emails: far above what a
// firm's readers cause, far below what a botnet filling the form would.
const (
	DefaultConfirmCapDomain = 50
	DefaultConfirmCapTotal  = 500
)

// loadSignupEnv reads the settings that bound what the signup form can
// make kb send, and the retired secrets.
func loadSignupEnv(env *Env, getenv func(string) string) error {
	env.ConfirmCapDomain, env.ConfirmCapTotal = DefaultConfirmCapDomain, DefaultConfirmCapTotal
	for _, v := range []struct {
		name string
		dst  *int
	}{{"KB_CONFIRM_CAP_DOMAIN", &env.ConfirmCapDomain}, {"KB_CONFIRM_CAP_TOTAL", &env.ConfirmCapTotal}} {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		if s == "off" {
			*v.dst = 0
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return fmt.Errorf("%s: %q is not a number of emails per hour from 1 to 1000000, or off", v.name, s)
		}
		*v.dst = n
	}
	for _, part := range strings.Split(getenv("KB_SECRET_PREVIOUS"), ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if len(part) < minSecretLen {
			return fmt.Errorf("KB_SECRET_PREVIOUS: every retired secret must be at least %d characters", minSecretLen)
		}
		env.SecretPrevious = append(env.SecretPrevious, part)
	}
	return nil
}

// PreviousSecrets are the retired secrets as keys.
func (e Env) PreviousSecrets() [][]byte {
	var out [][]byte
	for _, s := range e.SecretPrevious {
		out = append(out, []byte(s))
	}
	return out
}
