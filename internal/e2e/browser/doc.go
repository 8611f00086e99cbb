// Package browser holds the end-to-end tests of the reader's experience:
// Debian's Chromium, driven headless with chromedp, against the real kb
// binary (`kb serve`, started by package kbproc on a free loopback port with
// a temporary data folder).
//
// The tests walk the site as a reader does — navigation, search, the signup
// form with and without JavaScript, the confirmation and unsubscribe links
// from the emails in the outbox, the whitepaper download in free and gated
// mode — and audit every page type with axe-core (WCAG 2.1 AA), for
// horizontal scrolling and tap-target size at phone width, and write
// full-page screenshots at 390 and 1280 px to $KB_SCREENSHOTS (default
// test-artifacts/screenshots/ in the repository).
//
// One Chromium serves the whole test binary (started once in TestMain);
// each test gets tabs of its own in a fresh browser context. Without
// Chromium the tests skip, except under CI (the CI environment variable),
// where they fail. axe-core comes from the npm package in this folder
// (package.json, package-lock.json); the tests run `npm ci` here when
// node_modules is missing.
package browser
