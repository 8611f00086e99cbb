package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// The preference page, opened by the permanent link in every
// newsletter email. Like the other links, GET only shows (mail scanners
// fetch every link); the page's forms POST the same token to save topics
// and frequency, to download the reader's data, or to erase it. The forms
// post only from the site's own pages, and work without JavaScript.

const (
	preferencesExportPath = token.PreferencesPath + "/export"
	preferencesDeletePath = token.PreferencesPath + "/delete"

	// exportFilename is the download's name; ASCII, so no RFC 8187 form.
	exportFilename = "moje-dane.json"
)

// The form fields each POST accepts; anything else is refused.
const (
	fieldTopics    = "topics"
	fieldFrequency = "frequency"
	fieldConfirm   = "confirm"
)

// prefsForm is the topics and frequency form.
type prefsForm struct {
	Action                   string
	TopicsLegend, TopicsNote string
	Topics                   []prefChoice
	TopicsErr                string
	FrequencyLegend          string
	Frequencies              []prefChoice
	FrequencyErr             string
	// Summary and Problems head a form that came back with errors.
	Summary  string
	Problems []problem
	Submit   string
}

// prefChoice is one checkbox or radio button, with its description.
type prefChoice struct {
	ID, Name, Type, Value, Label, Hint string
	Checked, Focus                     bool
}

// dataForms are the "Twoje dane" buttons.
type dataForms struct {
	Title, Text               string
	ExportAction, ExportLabel string
	DeleteAction, DeleteLabel string
}

// preferences is /api/preferences?token=…: GET shows the page, POST saves
// the form.
func (h *Handler) preferences(w http.ResponseWriter, r *http.Request) {
	if !h.allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	if r.Method == http.MethodGet {
		c, tok, ok := h.prefsLink(w, r)
		if ok {
			h.prefsPage(w, r, c, tok)
		}
		return
	}
	c, tok, ok := h.prefsPost(w, r, true)
	if !ok {
		return
	}
	known := h.cfg.Params.Newsletter.TopicIDs()
	sub, err := h.store.GetByLink(r.Context(), link(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.prefsGone(w)
		return
	case err != nil:
		h.log.Error("preferences: look up subscriber", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	case sub.Status != store.StatusConfirmed:
		h.prefsInactive(w, http.StatusConflict, sub, tok)
		return
	case len(known) == 0:
		// The store reads "no topic" as "unsubscribe me"; on a site
		// without topics there is nothing to save that would not do so.
		h.render(w, http.StatusConflict, h.prefsView(sub, tok))
		return
	}
	in := parsePrefs(r, known)
	if !in.valid() {
		h.log.Info("preferences: invalid form", "subscriber", c.SubscriberID)
		h.prefsInvalid(w, sub, tok, in)
		return
	}
	sub, ch, err := h.store.SetPreferences(r.Context(), link(c),
		store.PreferencesUpdate{Topics: in.topics, Known: known, Frequency: in.freq}, h.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.prefsGone(w)
		return
	case errors.Is(err, store.ErrInactive):
		// Unsubscribed or bounced since the lookup above.
		if sub, err := h.store.GetByLink(r.Context(), link(c)); err == nil {
			h.prefsInactive(w, http.StatusConflict, sub, tok)
		} else {
			h.prefsGone(w)
		}
		return
	case errors.Is(err, store.ErrInvalidInput):
		// The topics changed under the form (a rebuilt config).
		in.topicsErr = msgPrefsUnknownTopic
		h.prefsInvalid(w, sub, tok, in)
		return
	case err != nil:
		h.log.Error("preferences: save", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	}
	h.log.Info("preferences saved", "subscriber", c.SubscriberID, "added", len(ch.Added), "removed", len(ch.Removed),
		"frequency", string(ch.Frequency), "unsubscribed", ch.Unsubscribed)
	masked := maskEmail(sub.Email)
	if ch.Unsubscribed {
		h.render(w, http.StatusOK, &page{
			Title: titlePrefsUnsub, Heading: titlePrefsUnsub,
			Lead:       fmt.Sprintf(msgPrefsUnsubLead, masked),
			Paragraphs: []string{msgUnsubDoneHelp},
			Actions:    []action{{Href: pathNewsletter, Label: msgSignUpAgain}},
			Data:       h.dataForms(tok),
		})
		return
	}
	p := h.prefsView(sub, tok)
	if ch.None() {
		p.Title, p.Heading, p.Lead = titlePrefsSame, titlePrefsSame, msgPrefsSameLead
	} else {
		p.Title, p.Heading, p.Lead = titlePrefsSaved, titlePrefsSaved, msgPrefsSavedLead
		p.Items = h.changeItems(ch)
	}
	h.render(w, http.StatusOK, p)
}

// prefsLink verifies the token of a preference request; false: refused
// and answered.
func (h *Handler) prefsLink(w http.ResponseWriter, r *http.Request) (token.Claims, string, bool) {
	tok := r.URL.Query().Get("token")
	c, err := h.signer.Verify(tok, token.Preferences, h.now())
	if err != nil || !c.Expires.IsZero() {
		h.log.Info("preferences: invalid link", "path", r.URL.Path, "err", err)
		h.badLink(w)
		return token.Claims{}, "", false
	}
	return c, tok, true
}

// prefsPost checks what every POST of the page must pass: sent from the
// site itself, a valid token, a form body that can be read (and, for the
// save, of a form's media type). false: refused and answered.
func (h *Handler) prefsPost(w http.ResponseWriter, r *http.Request, formOnly bool) (token.Claims, string, bool) {
	// Unlike confirm and unsubscribe links, which mail clients post
	// (RFC 8058), only the site's own page posts here.
	if err := h.siteCop.Check(r); err != nil {
		h.log.Info("preferences: cross-origin POST refused", "path", r.URL.Path, "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		h.notice(w, http.StatusForbidden, titleCrossSite, msgPrefsCrossSite, nil)
		return token.Claims{}, "", false
	}
	c, tok, ok := h.prefsLink(w, r)
	if !ok {
		return c, tok, false
	}
	if formOnly {
		// readLinkBody reads no other media type: an empty form would
		// look like "no topic chosen".
		media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if media != mediaForm && media != "multipart/form-data" {
			h.notice(w, http.StatusUnsupportedMediaType, titleMediaType, msgPrefsMediaType, nil)
			return c, tok, false
		}
	}
	if status := readLinkBody(w, r); status != 0 {
		h.linkBodyRefused(w, status)
		return c, tok, false
	}
	return c, tok, true
}

// unknownFields reports form fields (or files) other than allowed.
func unknownFields(r *http.Request, allowed ...string) bool {
	if r.MultipartForm != nil && len(r.MultipartForm.File) > 0 {
		return true
	}
	for k := range r.PostForm {
		if !slices.Contains(allowed, k) {
			return true
		}
	}
	return false
}

// prefsInput is the saved form, checked: the valid parts, and a Polish
// message per problem.
type prefsInput struct {
	topics                       []string // known ids, in the site's order
	freq                         store.Frequency
	topicsErr, freqErr, otherErr string
}

func (in prefsInput) valid() bool {
	return in.topicsErr == "" && in.freqErr == "" && in.otherErr == ""
}

// parsePrefs reads repeated "topics" (known ids, each once) and one
// "frequency" (each or digest) from the parsed body.
func parsePrefs(r *http.Request, known []string) prefsInput {
	var in prefsInput
	if unknownFields(r, fieldTopics, fieldFrequency) {
		in.otherErr = msgPrefsUnknownField
	}
	seen := map[string]bool{}
	for _, v := range r.PostForm[fieldTopics] {
		switch {
		case !slices.Contains(known, v):
			in.topicsErr = msgPrefsUnknownTopic
		case seen[v]:
			if in.topicsErr == "" {
				in.topicsErr = msgPrefsDupTopic
			}
		default:
			seen[v] = true
		}
	}
	for _, id := range known {
		if seen[id] {
			in.topics = append(in.topics, id)
		}
	}
	switch fs := r.PostForm[fieldFrequency]; {
	case len(fs) == 0:
		in.freqErr = msgPrefsNoFreq
	case len(fs) > 1:
		in.freqErr = msgPrefsDupFreq
	case fs[0] == string(store.FrequencyEach), fs[0] == string(store.FrequencyDigest):
		in.freq = store.Frequency(fs[0])
	default:
		in.freqErr = msgPrefsBadFreq
	}
	return in
}

// prefsPage is what GET shows; it changes nothing.
func (h *Handler) prefsPage(w http.ResponseWriter, r *http.Request, c token.Claims, tok string) {
	sub, err := h.store.GetByLink(r.Context(), link(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.prefsGone(w)
	case err != nil:
		h.log.Error("preferences page: look up subscriber", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
	case sub.Status != store.StatusConfirmed:
		h.prefsInactive(w, http.StatusOK, sub, tok)
	default:
		h.render(w, http.StatusOK, h.prefsView(sub, tok))
	}
}

// prefsView is the preference page of a confirmed subscriber with their
// stored choices.
func (h *Handler) prefsView(sub store.Subscriber, tok string) *page {
	p := &page{
		Title: titlePrefs, Heading: titlePrefs,
		Lead:  fmt.Sprintf(msgPrefsLead, maskEmail(sub.Email)),
		Notes: []string{msgPrefsUnsubNote},
		Data:  h.dataForms(tok),
	}
	if len(h.cfg.Params.Newsletter.Topics) == 0 {
		p.Paragraphs = []string{msgPrefsNoTopics}
		return p
	}
	freq := store.FrequencyEach
	if sub.Frequency == store.FrequencyDigest {
		freq = store.FrequencyDigest
	}
	p.Prefs = h.newPrefsForm(tok, sub.Topics(h.cfg.Params.Newsletter.TopicIDs()), freq)
	return p
}

// newPrefsForm is the form with topics and freq chosen.
func (h *Handler) newPrefsForm(tok string, topics []string, freq store.Frequency) *prefsForm {
	nl := h.cfg.Params.Newsletter
	f := &prefsForm{
		Action:       token.PreferencesPath + "?token=" + url.QueryEscape(tok),
		TopicsLegend: msgPrefsTopicsLegend, TopicsNote: msgPrefsNoTopicNote,
		FrequencyLegend: msgPrefsFreqLegend, Submit: msgPrefsSubmit,
	}
	for _, t := range nl.Topics {
		f.Topics = append(f.Topics, prefChoice{
			ID: "prefs-topic-" + t.ID, Name: fieldTopics, Type: "checkbox", Value: t.ID,
			Label: t.Name, Hint: t.Description, Checked: slices.Contains(topics, t.ID),
		})
	}
	each := msgPrefsEachHint
	if nl.Frequency != "" {
		each = fmt.Sprintf(msgPrefsEachHintFreq, nl.Frequency)
	}
	digest := msgPrefsDigestHintAny
	if d := nl.Digest.Describe(); d != "" {
		digest = fmt.Sprintf(msgPrefsDigestHint, d)
	}
	f.Frequencies = []prefChoice{
		{ID: "prefs-frequency-each", Name: fieldFrequency, Type: "radio", Value: string(store.FrequencyEach),
			Label: msgPrefsEachLabel, Hint: each, Checked: freq == store.FrequencyEach},
		{ID: "prefs-frequency-digest", Name: fieldFrequency, Type: "radio", Value: string(store.FrequencyDigest),
			Label: msgPrefsDigestLabel, Hint: digest, Checked: freq == store.FrequencyDigest},
	}
	return f
}

// prefsInvalid shows the form again with what the reader chose that was
// valid, and a message by each problem (422, nothing saved).
func (h *Handler) prefsInvalid(w http.ResponseWriter, sub store.Subscriber, tok string, in prefsInput) {
	p := h.prefsView(sub, tok)
	p.Title = titlePrefsInvalid
	f := h.newPrefsForm(tok, in.topics, in.freq)
	f.Summary = msgPrefsFix
	if in.topicsErr != "" && len(f.Topics) > 0 {
		f.TopicsErr = in.topicsErr
		f.Problems = append(f.Problems, problem{Field: f.Topics[0].ID, Label: msgPrefsTopicsField, Message: in.topicsErr})
	}
	if in.freqErr != "" {
		f.FrequencyErr = in.freqErr
		f.Problems = append(f.Problems, problem{Field: f.Frequencies[0].ID, Label: msgPrefsFreqField, Message: in.freqErr})
	}
	if len(f.Problems) == 0 {
		f.Summary = in.otherErr
	}
	// Focus the first field to fix, as the signup form does.
	for _, cs := range [][]prefChoice{f.Topics, f.Frequencies} {
		for i := range cs {
			if len(f.Problems) > 0 && cs[i].ID == f.Problems[0].Field {
				cs[i].Focus = true
			}
		}
	}
	p.Prefs = f
	h.render(w, http.StatusUnprocessableEntity, p)
}

// prefsInactive is the page of a link whose subscriber is not subscribed
// now: no form, a way to sign up again, and their data rights, which hold
// regardless.
func (h *Handler) prefsInactive(w http.ResponseWriter, status int, sub store.Subscriber, tok string) {
	h.render(w, status, &page{
		Title: titlePrefsInactive, Heading: titlePrefsInactive,
		Lead:       fmt.Sprintf(msgPrefsInactiveLead, maskEmail(sub.Email)),
		Paragraphs: []string{msgPrefsInactiveHelp},
		Actions:    []action{{Href: pathNewsletter, Label: msgSignUpAgain}},
		Data:       h.dataForms(tok),
	})
}

// prefsGone answers a valid link whose row is gone: erased, or a key that
// names another row.
func (h *Handler) prefsGone(w http.ResponseWriter) {
	h.notice(w, http.StatusGone, titleInactive, msgPrefsGoneLead, []string{msgNotListedAgain},
		action{Href: pathNewsletter, Label: msgSignUpAgain})
}

func (h *Handler) dataForms(tok string) *dataForms {
	q := "?token=" + url.QueryEscape(tok)
	return &dataForms{
		Title: msgDataTitle, Text: msgDataText,
		ExportAction: preferencesExportPath + q, ExportLabel: msgDataExport,
		DeleteAction: preferencesDeletePath + q, DeleteLabel: msgDataDelete,
	}
}

// changeItems says what a save changed, topics by name.
func (h *Handler) changeItems(ch store.PreferencesChange) []string {
	var items []string
	for _, part := range []struct {
		ids       []string
		one, many string
	}{{ch.Added, msgPrefsAddedOne, msgPrefsAddedMany}, {ch.Removed, msgPrefsRemOne, msgPrefsRemMany}} {
		switch len(part.ids) {
		case 0:
		case 1:
			items = append(items, fmt.Sprintf(part.one, h.topicNames(part.ids)))
		default:
			items = append(items, fmt.Sprintf(part.many, h.topicNames(part.ids)))
		}
	}
	switch ch.Frequency {
	case store.FrequencyEach:
		items = append(items, msgPrefsNowEach)
	case store.FrequencyDigest:
		if d := h.cfg.Params.Newsletter.Digest.Describe(); d != "" {
			items = append(items, fmt.Sprintf(msgPrefsNowDigest, d))
		} else {
			items = append(items, msgPrefsNowDigestAny)
		}
	}
	return items
}

// topicNames quotes the topics' names (the id of one the site dropped).
func (h *Handler) topicNames(ids []string) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		name := id
		if t, ok := h.cfg.Params.Newsletter.Topic(id); ok {
			name = t.Name
		}
		names[i] = "„" + name + "”"
	}
	return strings.Join(names, ", ")
}

// preferencesExport is POST /api/preferences/export?token=…: everything
// the store holds on the reader, as `kb subscribers show` prints it. POST
// only: a scanner fetching links must not download anyone's data.
func (h *Handler) preferencesExport(w http.ResponseWriter, r *http.Request) {
	if !h.allowMethods(w, r, http.MethodPost) {
		return
	}
	c, _, ok := h.prefsPost(w, r, false)
	if !ok {
		return
	}
	if unknownFields(r) {
		h.notice(w, http.StatusUnprocessableEntity, titleError, msgPrefsUnknownField, nil)
		return
	}
	person, err := h.store.PersonByLink(r.Context(), link(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.prefsGone(w)
		return
	case err != nil:
		h.log.Error("preferences: export", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	}
	b, err := json.MarshalIndent(person, "", "  ")
	if err != nil {
		h.log.Error("preferences: export: encode", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Content-Disposition", `attachment; filename="`+exportFilename+`"`)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Robots-Tag", "noindex")
	h.log.Info("preferences: data exported", "subscriber", c.SubscriberID)
	writeJSON(w, http.StatusOK, append(b, '\n'))
}

// preferencesDelete is POST /api/preferences/delete?token=…: without
// confirm=yes a page that asks; with it, the erasure `kb subscribers
// delete` does. The token then names no row and is refused.
func (h *Handler) preferencesDelete(w http.ResponseWriter, r *http.Request) {
	if !h.allowMethods(w, r, http.MethodPost) {
		return
	}
	c, tok, ok := h.prefsPost(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	// The address, for OnErase: after the erasure nothing names it.
	sub, err := h.store.GetByLink(ctx, link(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.prefsGone(w)
		return
	case err != nil:
		h.log.Error("preferences: delete: look up subscriber", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	}
	confirm := r.PostForm[fieldConfirm]
	switch {
	case unknownFields(r, fieldConfirm) || len(confirm) > 1 || len(confirm) == 1 && confirm[0] != "yes":
		h.deleteConfirmPage(w, http.StatusUnprocessableEntity, sub, tok, msgDeleteBadConfirm)
		return
	case len(confirm) == 0:
		h.deleteConfirmPage(w, http.StatusOK, sub, tok, "")
		return
	}
	switch err := h.store.EraseLink(ctx, link(c), h.now()); {
	case errors.Is(err, store.ErrNotFound):
		h.prefsGone(w)
		return
	case err != nil:
		h.log.Error("preferences: erase", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	}
	h.log.Info("preferences: data erased", "subscriber", c.SubscriberID)
	if h.onErase != nil {
		// The row is gone: the clean-up outside the store must run even
		// if the reader closes the tab now.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.apiTimeout)
		h.onErase(ctx, sub.Email)
		cancel()
	}
	h.notice(w, http.StatusOK, titleErased, msgErasedLead, []string{msgErasedHelp},
		action{Href: pathHome, Label: msgToHome})
}

// deleteConfirmPage asks before erasing: what goes, that it is final, and
// that unsubscribing is the lighter way.
func (h *Handler) deleteConfirmPage(w http.ResponseWriter, status int, sub store.Subscriber, tok, problem string) {
	q := "?token=" + url.QueryEscape(tok)
	paras := []string{msgDeleteWarn}
	if sub.Status == store.StatusConfirmed {
		paras = append(paras, msgDeleteLighter)
	}
	h.render(w, status, &page{
		Title: titleDelete, Heading: titleDelete, Error: problem,
		Lead:       fmt.Sprintf(msgDeleteLead, maskEmail(sub.Email)),
		Paragraphs: paras,
		Button: &buttonForm{
			Action: preferencesDeletePath + q, Button: msgDeleteButton,
			StayURL: token.PreferencesPath + q, StayLabel: msgDeleteStay,
			Hidden: []hiddenField{{Name: fieldConfirm, Value: "yes"}},
		},
	})
}
