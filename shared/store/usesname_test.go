package store

import "testing"

func TestUsesNameMatchesWholePlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		exprs, name string
		want        bool
	}{
		{"SET #v = :v", "#v", true},
		{"SET #val = :v", "#v", false},
		{"SET #val = :v, #v = :w", "#v", true},
		{"SET #ab#v = :v", "#v", true},
		{"SET #vX = :v", "#v", true}, // an upper-case letter ends a placeholder name
		{"#v", "#v", true},
		{"", "#v", false},
		{"SET #s = :s REMOVE #st", "#st", true},
		{"SET #s = :s REMOVE #sta", "#st", false},
	}
	for _, tc := range tests {
		if got := usesName(tc.exprs, tc.name); got != tc.want {
			t.Errorf("usesName(%q, %q) = %v, want %v", tc.exprs, tc.name, got, tc.want)
		}
	}
}
