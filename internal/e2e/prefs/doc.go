// Package prefs holds end-to-end tests of what readers choose:
// topics, each guide or a digest, the welcome email, the preference page
// and the data on it, through HTTP and the real kb binary
// (internal/e2e/kbproc). The tests build a copy of the site whose only
// guides for the newsletter are their own — four in a first build and four
// more in a second, on the three topics and on none — so that they decide
// what is due; the real guides stay in the copy (the site needs them) but
// are never mailed. The scanner test of the preference link is in
// internal/e2e/abuse with the other scanner checks.
package prefs
