package textfold

import "testing"

func TestASCII(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Należności", "Naleznosci"},
		{"ŁÓDŹ żółw", "LODZ zolw"},
		{"przepływy pieniężne", "przeplywy pieniezne"},
		{"KSeF", "KSeF"},
		{"ZAŻÓŁĆ GĘŚLĄ JAŹŃ", "ZAZOLC GESLA JAZN"},
		{"przepływy-pieniężne", "przeplywy-pieniezne"},
		{"", ""},
	} {
		if got := ASCII(c.in); got != c.want {
			t.Errorf("ASCII(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
