package emltest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	const multipartMail = "To: Anna <anna@example.pl>\r\nSubject: =?utf-8?q?Zaleg=C5=82o=C5=9Bci?=\r\n" +
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nZaleg=C5=82o=C5=9Bci\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n--b--\r\n"
	tests := []struct {
		name, raw, wantErr string
		want               Message
	}{
		{"multipart", multipartMail, "", Message{To: "anna@example.pl", Subject: "Zaległości", Text: "Zaległości", HTML: "<p>html</p>"}},
		{"no To", "Subject: x\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b--\r\n", "To", Message{}},
		{"not multipart", "To: a@example.pl\r\nContent-Type: text/plain\r\n\r\nx\r\n", "want multipart", Message{}},
		{"truncated", strings.TrimSuffix(multipartMail, "--b--\r\n"), "eml", Message{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.eml")
			os.WriteFile(path, []byte(tt.raw), 0o644)
			got, err := Read(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Header.Get("To") == "" {
				t.Error("header not kept")
			}
			got.Header = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
