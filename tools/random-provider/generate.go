package main

import (
	"crypto/rand"
	"errors"
	"math/big"

	"golang.org/x/crypto/bcrypt"
)

// Character classes, as terraform-provider-random defines them (its default special set is the
// one documented in pulumi-random's schema: "!@#$%&*()-_=+[]{}<>:?").
const (
	upperChars          = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars          = "abcdefghijklmnopqrstuvwxyz"
	numericChars        = "0123456789"
	defaultSpecialChars = "!@#$%&*()-_=+[]{}<>:?"
)

// params are the generation inputs of both resources, after Check has filled the defaults.
type params struct {
	Length                                     int
	Upper, Lower, Numeric, Special             bool
	MinUpper, MinLower, MinNumeric, MinSpecial int
	OverrideSpecial                            string
}

// specialSet is overrideSpecial when it is non-empty, else the default special characters.
func (p params) specialSet() string {
	if p.OverrideSpecial != "" {
		return p.OverrideSpecial
	}
	return defaultSpecialChars
}

// generate returns a random string with the semantics of terraform-provider-random's
// random_string/random_password: first each minimum is drawn from its class (upstream does this
// whether or not the class's flag is set), then the rest from the union of the enabled classes,
// then everything is shuffled. Characters are runes, so a multi-byte overrideSpecial works and
// length counts characters. All randomness comes from crypto/rand.
func generate(p params) (string, error) {
	if p.Length < 1 {
		return "", errors.New("length must be at least 1")
	}
	if p.MinUpper < 0 || p.MinLower < 0 || p.MinNumeric < 0 || p.MinSpecial < 0 {
		return "", errors.New("minimums must not be negative")
	}
	if p.MinUpper+p.MinLower+p.MinNumeric+p.MinSpecial > p.Length {
		return "", errors.New("length must be >= minUpper + minLower + minNumeric + minSpecial")
	}
	special := []rune(p.specialSet())
	var pool []rune
	if p.Upper {
		pool = append(pool, []rune(upperChars)...)
	}
	if p.Lower {
		pool = append(pool, []rune(lowerChars)...)
	}
	if p.Numeric {
		pool = append(pool, []rune(numericChars)...)
	}
	if p.Special {
		pool = append(pool, special...)
	}
	if len(pool) == 0 {
		return "", errors.New("the character set specified is empty")
	}

	out := make([]rune, 0, p.Length)
	for _, m := range []struct {
		set []rune
		n   int
	}{
		{[]rune(upperChars), p.MinUpper},
		{[]rune(lowerChars), p.MinLower},
		{[]rune(numericChars), p.MinNumeric},
		{special, p.MinSpecial},
	} {
		drawn, err := draw(m.set, m.n)
		if err != nil {
			return "", err
		}
		out = append(out, drawn...)
	}
	rest, err := draw(pool, p.Length-len(out))
	if err != nil {
		return "", err
	}
	out = append(out, rest...)

	// Fisher-Yates shuffle so the minimum characters are not at fixed positions.
	for i := len(out) - 1; i > 0; i-- {
		j, err := randInt(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// draw picks n runes from set uniformly at random (with replacement).
func draw(set []rune, n int) ([]rune, error) {
	if n <= 0 {
		return nil, nil
	}
	if len(set) == 0 {
		return nil, errors.New("cannot draw from an empty character set")
	}
	out := make([]rune, n)
	for i := range out {
		k, err := randInt(len(set))
		if err != nil {
			return nil, err
		}
		out[i] = set[k]
	}
	return out, nil
}

// randInt returns a uniform random integer in [0, n) from crypto/rand.
func randInt(n int) (int, error) {
	k, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(k.Int64()), nil
}

// bcryptHash hashes the password like terraform-provider-random does: bcrypt at the default cost,
// of at most the first 72 bytes (bcrypt's limit).
func bcryptHash(password string) (string, error) {
	b := []byte(password)
	if len(b) > 72 {
		b = b[:72]
	}
	h, err := bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
	return string(h), err
}
