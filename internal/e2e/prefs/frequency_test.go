package prefs

import (
	"cmp"
	"slices"
	"strings"
	"testing"
)

// TestFrequencySwitchMidPeriod: readers switch between each guide and the
// digest on the preference page after the first guides went out and
// before the next ones. Whatever they switch, every reader gets every
// guide exactly once — each on the route they had chosen when it was sent
// — and none is missing: guides waiting for the digest of someone who
// switched back to each still come in their digest.
func TestFrequencySwitchMidPeriod(t *testing.T) {
	first, second := builds(t)
	k := start(t, first)
	everyTopic := []string{"rozmowy", "pieniadze", "prawo"}
	tests := []struct {
		name, address string
		before        string   // frequency when the first build's guides go out
		after         []string // saved in turn before the second build's go out
		// Which guides come one by one and which in the digest.
		each, digest []testGuide
	}{
		{"each, then digest", "a@example.pl", "each", []string{"digest"}, firstGuides, secondGuides},
		{"digest, then each", "b@example.pl", "digest", []string{"each"}, secondGuides, firstGuides},
		{"digest, each and digest again", "c@example.pl", "digest", []string{"each", "digest"}, nil, slices.Concat(firstGuides, secondGuides)},
		{"each throughout", "d@example.pl", "each", []string{"each"}, slices.Concat(firstGuides, secondGuides), nil},
	}
	var addresses []string
	for _, tt := range tests {
		addresses = append(addresses, tt.address)
	}
	readers := k.join(t, false, addresses...)
	for i, tt := range tests {
		k.choose(t, readers[i].prefs, tt.before, everyTopic...)
	}
	k.send(t, first)
	for i, tt := range tests {
		for _, f := range tt.after {
			k.choose(t, readers[i].prefs, f, everyTopic...)
		}
	}
	k.send(t, second)
	k.send(t, second, "--digest")

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			times := map[string]int{}
			var each, digests []string
			for _, e := range k.newsletters(t, tt.address) {
				if !strings.HasPrefix(e.Tag, "digest-") {
					each = append(each, e.Tag)
					times[e.Tag]++
					continue
				}
				digests = append(digests, e.Tag)
				for _, g := range second.guides {
					if strings.Contains(e.Text, g.Permalink) {
						times[g.Slug]++
					}
				}
				checkDigest(t, second, e, newestFirst(second, tt.digest))
			}
			for _, g := range slices.Concat(firstGuides, secondGuides) {
				if times[g.slug] != 1 {
					t.Errorf("got %s %d times, want once", g.slug, times[g.slug])
				}
			}
			if want := slugs(tt.each); !slices.Equal(slices.Sorted(slices.Values(each)), want) {
				t.Errorf("got %v one by one, want %v", each, want)
			}
			if want := min(len(tt.digest), 1); len(digests) != want {
				t.Errorf("got %d digests (%v), want %d", len(digests), digests, want)
			}
		})
	}
}

// slugs are the guides' slugs, sorted.
func slugs(guides []testGuide) []string {
	var out []string
	for _, g := range guides {
		out = append(out, g.slug)
	}
	slices.Sort(out)
	return out
}

// newestFirst is the guides' slugs in the order a digest lists them.
func newestFirst(s stage, guides []testGuide) []string {
	out := slugs(guides)
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(s.guides[b].Date.Unix(), s.guides[a].Date.Unix()) })
	return out
}
