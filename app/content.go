package app

import (
	"time"

	"github.com/liaison-ent/liaison/conventions"
)

// NoticeContent is the optional structured content of a notice: what
// helps parents most, rendered for humans by the widget.
type NoticeContent struct {
	Menu      *MenuContent      `json:"menu,omitempty"`
	Transport *TransportContent `json:"transport,omitempty"`
}

// MenuContent is a canteen menu: days × dishes, with the 14 allergens of
// EU regulation 1169/2011 and labels per Dish.
type MenuContent struct {
	Days []MenuDay `json:"days" validate:"required,min=1,max=7,dive"`
}

type MenuDay struct {
	Date      string `json:"date" validate:"required,datetime=2006-01-02"`
	NoService bool   `json:"no_service,omitempty"`
	Note      string `json:"note,omitempty" validate:"max=200,text"`
	Dishes    []Dish `json:"dishes,omitempty" validate:"max=12,dive"`
}

type Dish struct {
	Course    string   `json:"course" validate:"required,oneof=entree plat accompagnement laitage dessert gouter"`
	Name      string   `json:"name" validate:"required,min=1,max=120,text"`
	Allergens []string `json:"allergens,omitempty" validate:"max=14,unique,dive,oneof=gluten crustaces oeufs poissons arachides soja lait fruits_a_coque celeri moutarde sesame sulfites lupin mollusques"`
	Labels    []string `json:"labels,omitempty" validate:"max=7,unique,dive,oneof=bio local label_rouge aop peche_durable vegetarien fait_maison"`
}

// TransportContent is a school-transport disruption.
type TransportContent struct {
	Line        string     `json:"line" validate:"required,min=1,max=40,text"`
	Stops       []string   `json:"stops,omitempty" validate:"max=50,dive,min=1,max=80,text"`
	From        *time.Time `json:"from,omitempty"`
	To          *time.Time `json:"to,omitempty"`
	Replacement string     `json:"replacement,omitempty" validate:"max=300,multiline"`
	Cause       string     `json:"cause,omitempty" validate:"max=200,text"`
}

// Allergens are the 14 allergens of EU regulation 1169/2011, as French
// parents know them.
var Allergens = []struct{ Code, FR, EN string }{
	{"gluten", "gluten", "gluten"},
	{"crustaces", "crustacés", "crustaceans"},
	{"oeufs", "œufs", "eggs"},
	{"poissons", "poissons", "fish"},
	{"arachides", "arachides", "peanuts"},
	{"soja", "soja", "soybeans"},
	{"lait", "lait", "milk"},
	{"fruits_a_coque", "fruits à coque", "tree nuts"},
	{"celeri", "céleri", "celery"},
	{"moutarde", "moutarde", "mustard"},
	{"sesame", "graines de sésame", "sesame seeds"},
	{"sulfites", "anhydride sulfureux et sulfites", "sulphur dioxide and sulphites"},
	{"lupin", "lupin", "lupin"},
	{"mollusques", "mollusques", "molluscs"},
}

// ContentDetails checks what the validator cannot: content matches the
// category, a transport window is ordered.
func ContentDetails(category string, ct *NoticeContent) []Detail {
	if ct == nil {
		return nil
	}
	var ds []Detail
	if ct.Menu != nil && category != conventions.CategoryCantine {
		ds = append(ds, NewDetail("content.menu", "notices.content_category",
			"Un menu ne peut accompagner qu'une information de catégorie cantine.",
			"A menu can only come with a notice of the cantine category."))
	}
	if ct.Transport != nil && category != conventions.CategoryTransport {
		ds = append(ds, NewDetail("content.transport", "notices.content_category",
			"Une perturbation de transport ne peut accompagner qu'une information de catégorie transport.",
			"A transport disruption can only come with a notice of the transport category."))
	}
	if tr := ct.Transport; tr != nil && tr.From != nil && tr.To != nil && !tr.To.After(*tr.From) {
		ds = append(ds, NewDetail("content.transport.to", "notices.transport_window",
			"La fin de la perturbation doit être postérieure à son début.",
			"The end of the disruption must be after its start."))
	}
	return ds
}
