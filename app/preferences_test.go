package app

import (
	"testing"

	"github.com/liaison-ent/liaison/conventions"
)

// Every category has its label for parents (moved from api).
func TestParentCategoryLabels(t *testing.T) {
	if len(CategoryLabels) != len(conventions.Categories) {
		t.Errorf("%d parent labels for %d categories", len(CategoryLabels), len(conventions.Categories))
	}
	for _, c := range conventions.Categories {
		if l := CategoryLabels[c]; l.FR == "" || l.EN == "" {
			t.Errorf("category %s has no parent label: %+v", c, l)
		}
	}
}
