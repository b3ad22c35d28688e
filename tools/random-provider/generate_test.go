package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

func countIn(s, set string) int {
	n := 0
	for _, r := range s {
		if strings.ContainsRune(set, r) {
			n++
		}
	}
	return n
}

func allIn(s, set string) bool { return countIn(s, set) == utf8.RuneCountInString(s) }

func defaults(length int) params {
	return params{Length: length, Upper: true, Lower: true, Numeric: true, Special: true}
}

func mustGenerate(t *testing.T, p params) string {
	t.Helper()
	s, err := generate(p)
	if err != nil {
		t.Fatalf("generate(%+v): %v", p, err)
	}
	if n := utf8.RuneCountInString(s); n != p.Length {
		t.Fatalf("generate(%+v) = %q: %d characters, want %d", p, s, n, p.Length)
	}
	return s
}

func TestGenerateDefaultsUseAllClasses(t *testing.T) {
	all := upperChars + lowerChars + numericChars + defaultSpecialChars
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		s := mustGenerate(t, defaults(64))
		if !allIn(s, all) {
			t.Fatalf("%q has characters outside the default classes", s)
		}
		for name, set := range map[string]string{"upper": upperChars, "lower": lowerChars, "numeric": numericChars, "special": defaultSpecialChars} {
			if countIn(s, set) > 0 {
				seen[name] = true
			}
		}
	}
	if len(seen) != 4 {
		t.Fatalf("in 50 strings of 64 characters only these classes occurred: %v", seen)
	}
}

func TestGenerateClassFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       params
		allowed string
	}{
		{"special=false gives alphanumerics", params{Length: 200, Upper: true, Lower: true, Numeric: true}, upperChars + lowerChars + numericChars},
		{"upper+numeric only (ClearML access keys)", params{Length: 200, Upper: true, Numeric: true}, upperChars + numericChars},
		{"lower only", params{Length: 200, Lower: true}, lowerChars},
		{"special only", params{Length: 200, Special: true}, defaultSpecialChars},
		{"overrideSpecial replaces the special set", params{Length: 200, Special: true, OverrideSpecial: "-_"}, "-_"},
		{"overrideSpecial without special is unused", params{Length: 200, Numeric: true, OverrideSpecial: "-_"}, numericChars},
		{"multi-byte overrideSpecial", params{Length: 50, Special: true, OverrideSpecial: "äö€"}, "äö€"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustGenerate(t, tc.p)
			if !allIn(s, tc.allowed) {
				t.Fatalf("%q has characters outside %q", s, tc.allowed)
			}
		})
	}
}

func TestGenerateMinimums(t *testing.T) {
	p := params{Length: 12, Upper: true, Lower: true, Numeric: true, Special: true,
		MinUpper: 3, MinLower: 2, MinNumeric: 4, MinSpecial: 3}
	for i := 0; i < 200; i++ {
		s := mustGenerate(t, p)
		if countIn(s, upperChars) < 3 || countIn(s, lowerChars) < 2 || countIn(s, numericChars) < 4 || countIn(s, defaultSpecialChars) < 3 {
			t.Fatalf("%q does not meet the minimums", s)
		}
	}
	// The minimum of a special set that is overridden comes from the override.
	s := mustGenerate(t, params{Length: 10, Lower: true, Special: true, MinSpecial: 10, OverrideSpecial: "#"})
	if s != "##########" {
		t.Fatalf("got %q, want ten '#'", s)
	}
	// Like upstream, a minimum is honoured even when its class is disabled.
	s = mustGenerate(t, params{Length: 20, Lower: true, MinNumeric: 5})
	if countIn(s, numericChars) != 5 || countIn(s, lowerChars) != 15 {
		t.Fatalf("%q: want 5 digits and 15 lower-case letters", s)
	}
}

func TestGenerateShufflesMinimums(t *testing.T) {
	// With the minimums drawn first, an unshuffled result would always start with the digit.
	first := map[bool]int{}
	for i := 0; i < 200; i++ {
		s := mustGenerate(t, params{Length: 8, Lower: true, MinNumeric: 1})
		first[strings.ContainsRune(numericChars, rune(s[0]))]++
	}
	if first[true] == 0 || first[false] == 0 {
		t.Fatalf("position of the required digit is not random: %v", first)
	}
}

func TestGenerateErrors(t *testing.T) {
	for name, p := range map[string]params{
		"length 0":          {Length: 0, Lower: true},
		"empty set":         {Length: 5},
		"minimums > length": {Length: 3, Lower: true, MinLower: 2, MinUpper: 2},
		"negative minimum":  {Length: 3, Lower: true, MinLower: -1},
	} {
		if s, err := generate(p); err == nil {
			t.Errorf("%s: generate(%+v) = %q, want an error", name, p, s)
		}
	}
}

func TestBcryptHash(t *testing.T) {
	for _, length := range []int{24, 100} {
		pw := mustGenerate(t, defaults(length))
		h, err := bcryptHash(pw)
		if err != nil {
			t.Fatal(err)
		}
		// Like upstream, passwords over 72 bytes are hashed by their first 72 bytes.
		if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(pw[:min(72, len(pw))])); err != nil {
			t.Fatalf("hash of a %d-character password does not verify: %v", length, err)
		}
		if cost, _ := bcrypt.Cost([]byte(h)); cost != bcrypt.DefaultCost {
			t.Fatalf("cost %d, want %d", cost, bcrypt.DefaultCost)
		}
	}
}
