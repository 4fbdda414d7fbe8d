package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// checkLabelSyntax returns the error of const labels that no scraper
// reads as given, naming them, or nil: names that are not
// [a-zA-Z_][a-zA-Z0-9_]* (model.LegacyValidation), or that begin with
// __, which Prometheus keeps for itself; values that are not UTF-8.
//
// client_golang accepts any UTF-8 name but __*, yet it writes one such as
// "a-b" as a_b (and "1a" as _a) to every scraper that does not ask for
// UTF-8 names (Prometheus 2, promtool, the text format without
// escaping=allow-utf-8): the series would carry a label other than the
// one given, two given names could become one, and muxtop's rules would
// not match. Such names are refused here, as the client refuses __*.
func checkLabelSyntax(cl map[string]string) error {
	var bad []string
	for name, value := range cl {
		switch {
		case !model.LegacyValidation.IsValidLabelName(name) || strings.HasPrefix(name, "__"):
			bad = append(bad, fmt.Sprintf("%s: not a label name: use [a-zA-Z_][a-zA-Z0-9_]*, not beginning with __", strconv.Quote(name)))
		case !utf8.ValidString(value):
			bad = append(bad, fmt.Sprintf("%s: value %q is not valid UTF-8", strconv.Quote(name), value))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("metrics: Options.ConstLabels: %s", strings.Join(bad, "; "))
}
