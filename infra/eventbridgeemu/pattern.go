package eventbridgeemu

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Pattern is an EventBridge event pattern: each field lists the values it accepts, a
// nested object matches a nested field, and every field must match. The filters the
// emulator knows: exact values (strings, numbers, booleans, null), prefix, suffix,
// equals-ignore-case, anything-but (a value, a list, or a prefix) and exists.
type Pattern struct{ fields map[string]any }

// ParsePattern parses a pattern; "" matches every event.
func ParsePattern(s string) (Pattern, error) {
	if strings.TrimSpace(s) == "" {
		return Pattern{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Pattern{}, fmt.Errorf("event pattern is not a JSON object: %w", err)
	}
	if err := check(m); err != nil {
		return Pattern{}, err
	}
	return Pattern{fields: m}, nil
}

func check(m map[string]any) error {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			if err := check(v); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				return fmt.Errorf("field %s: empty list of values", k)
			}
		default:
			return fmt.Errorf("field %s: want a list of values or an object", k)
		}
	}
	return nil
}

// Match tells whether the envelope matches.
func (p Pattern) Match(e Envelope) bool {
	if p.fields == nil {
		return true
	}
	b, _ := json.Marshal(e)
	var doc map[string]any
	_ = json.Unmarshal(b, &doc)
	return matchObject(p.fields, doc)
}

func matchObject(pattern map[string]any, doc map[string]any) bool {
	for k, want := range pattern {
		got, present := doc[k]
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !matchObject(want, sub) {
				return false
			}
		case []any:
			if !matchValues(want, got, present) {
				return false
			}
		}
	}
	return true
}

// matchValues: one of the pattern's values must match the field (or, for an array
// field, one of its elements).
func matchValues(want []any, got any, present bool) bool {
	values := []any{got}
	if arr, ok := got.([]any); ok {
		values = arr
	}
	for _, w := range want {
		if f, ok := w.(map[string]any); ok {
			if ex, ok := f["exists"].(bool); ok {
				if ex == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, v := range values {
			if matchOne(w, v) {
				return true
			}
		}
	}
	return false
}

func matchOne(want, v any) bool {
	f, ok := want.(map[string]any)
	if !ok {
		return equal(want, v)
	}
	s, isStr := v.(string)
	if p, ok := f["prefix"].(string); ok {
		return isStr && strings.HasPrefix(s, p)
	}
	if p, ok := f["suffix"].(string); ok {
		return isStr && strings.HasSuffix(s, p)
	}
	if p, ok := f["equals-ignore-case"].(string); ok {
		return isStr && strings.EqualFold(s, p)
	}
	if but, ok := f["anything-but"]; ok {
		switch but := but.(type) {
		case []any:
			for _, b := range but {
				if equal(b, v) {
					return false
				}
			}
			return true
		case map[string]any:
			if p, ok := but["prefix"].(string); ok {
				return isStr && !strings.HasPrefix(s, p)
			}
			return false
		default:
			return !equal(but, v)
		}
	}
	return false
}

func equal(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
