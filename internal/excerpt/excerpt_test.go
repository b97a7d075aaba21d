package excerpt

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 40, `"hello"`},
		{"", 40, `""`},
		{`a"b\c`, 40, `"a\"b\\c"`},
		{"tab\tnl\n", 40, `"tab\tnl\n"`},
		{"é😀", 40, `"\u00e9\U0001f600"`},
		{"\xff\x00", 40, `"\xff\x00"`},
		{"\u202e", 40, `"\u202e"`}, // a right-to-left override cannot reorder the message
		{"abcdef", 3, `"abc"...`},
		{"abé", 3, `"ab"...`}, // é is two bytes: the cut moves back to its start
		{"😀😀", 5, `"\U0001f600"...`},
		{strings.Repeat("x", 100), 24, `"` + strings.Repeat("x", 24) + `"...`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in, tt.max); got != tt.want {
			t.Errorf("Quote(%q, %d) = %s, want %s", tt.in, tt.max, got, tt.want)
		}
		if got := Quote([]byte(tt.in), tt.max); got != tt.want {
			t.Errorf("Quote([]byte(%q), %d) = %s, want %s", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 10, "hello"},
		{"  a\n\n\tb  ", 10, "a b"},
		{"abcdef", 3, "abc..."},
		{"é\x00\xffz", 10, "é \uFFFDz"},
		{"", 5, ""},
		{"<html>\r\n<body>", 80, "<html> <body>"},
		{"\x1b[31mred", 10, "[31mred"}, // no escape sequence reaches the terminal
	}
	for _, tt := range tests {
		if got := Line(tt.in, tt.max); got != tt.want {
			t.Errorf("Line(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
		if got := Line([]byte(tt.in), tt.max); got != tt.want {
			t.Errorf("Line([]byte(%q), %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
