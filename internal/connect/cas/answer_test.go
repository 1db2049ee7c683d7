package cas

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/liaison-ent/liaison/internal/connect"
	"github.com/liaison-ent/liaison/internal/connect/cas/castest"
)

// The parent of the fixture as Liaison keeps them: one entry per class of
// the elementary school, one for the nursery school (no class there).
var wantParent = connect.Identity{
	UserID:  "a3f0c2d1-7b4e-4c1a-9e2f-5d6b8c0e1f23",
	Profile: connect.ProfileRelative,
	Children: []connect.Child{
		{UAI: uaiElem, Level: "elementaire", Class: "CE1 A"},
		{UAI: uaiElem, Level: "elementaire", Class: "CM2"},
		{UAI: uaiMat, Level: "", Class: ""},
	},
}

// The stand-in answers exactly the fixtures (the shape read from entcore).
func TestStandInAnswersTheFixtureShape(t *testing.T) {
	for file, v := range map[string]castest.Variant{
		"entcore-generic-success.xml":            castest.VariantUAI,
		"entcore-generic-success-externalid.xml": castest.VariantExternalID,
	} {
		got := castest.Success(parentUser(), v, fixedNow)
		if want := readFixture(t, file); !bytes.Equal(got, want) {
			t.Errorf("%s: the stand-in answers\n%s\nthe fixture is\n%s", file, got, want)
		}
	}
}

func TestEntcoreGenericFixtures(t *testing.T) {
	for _, file := range []string{"entcore-generic-success.xml", "entcore-generic-success-externalid.xml"} {
		id, err := readAnswer(readFixture(t, file), Mapping{Preset: PresetEntcoreGeneric})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !reflect.DeepEqual(id, wantParent) {
			t.Errorf("%s: identity %+v, want %+v", file, id, wantParent)
		}
		if !id.IsParent() {
			t.Errorf("%s: a Relative is a parent", file)
		}
	}
}

// Several shapes entcore may write around the same data.
func TestEntcoreGenericVariants(t *testing.T) {
	const head = `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>`
	const tail = `</cas:authenticationSuccess></cas:serviceResponse>`
	for name, c := range map[string]struct {
		body string
		want connect.Identity
	}{
		"another prefix, the same namespace": {
			`<x:serviceResponse xmlns:x="http://www.yale.edu/tp/cas"><x:authenticationSuccess><x:user>u1</x:user><x:attributes><x:userAttributes><x:profile>Relative</x:profile>` +
				`<x:schools><x:school UAI="0801234g "><x:classes externalId="S"><x:classe> cm1 </x:classe><x:classe>Les Loupiots</x:classe></x:classes></x:school></x:schools></x:userAttributes></x:attributes></x:authenticationSuccess></x:serviceResponse>`,
			connect.Identity{UserID: "u1", Profile: connect.ProfileRelative, Children: []connect.Child{{UAI: uaiElem, Level: "elementaire", Class: "CM1"}, {UAI: uaiElem, Class: "LES LOUPIOTS"}}},
		},
		"a principal and the Generic user: the last is the external id": {
			head + `<cas:user>marie.durand</cas:user><cas:user>ext-1</cas:user>` + tail,
			connect.Identity{UserID: "ext-1"},
		},
		"no attributes at all": {
			head + `<cas:user>ext-1</cas:user>` + tail,
			connect.Identity{UserID: "ext-1"},
		},
		"a teacher": {
			head + `<cas:user>t1</cas:user><cas:attributes><cas:userAttributes><cas:profile>Teacher</cas:profile></cas:userAttributes></cas:attributes>` + tail,
			connect.Identity{UserID: "t1", Profile: connect.ProfileTeacher},
		},
		"an unknown profile is no profile": {
			head + `<cas:user>x1</cas:user><cas:attributes><cas:userAttributes><cas:profile>Guest</cas:profile></cas:userAttributes></cas:attributes>` + tail,
			connect.Identity{UserID: "x1"},
		},
		"a school without UAI is dropped, repeated classes kept once": {
			head + `<cas:user>p1</cas:user><cas:attributes><cas:userAttributes><cas:profile>Relative</cas:profile><cas:schools>` +
				`<cas:school name="Sans UAI"><cas:classes><cas:classe>CP</cas:classe></cas:classes></cas:school>` +
				`<cas:school UAI="0805678M"><cas:classes><cas:classe>GS</cas:classe><cas:classe>gs</cas:classe></cas:classes></cas:school>` +
				`</cas:schools></cas:userAttributes></cas:attributes>` + tail,
			connect.Identity{UserID: "p1", Profile: connect.ProfileRelative, Children: []connect.Child{{UAI: uaiMat, Level: "maternelle", Class: "GS"}}},
		},
	} {
		id, err := readAnswer([]byte(c.body), Mapping{Preset: PresetEntcoreGeneric})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(id, c.want) {
			t.Errorf("%s: identity %+v, want %+v", name, id, c.want)
		}
	}
}

// Anything that is not a well-formed CAS answer of the expected shape is
// ErrMalformedResponse, never a half-read identity.
func TestMalformedAnswers(t *testing.T) {
	fixture := string(readFixture(t, "entcore-generic-success.xml"))
	deep := strings.Repeat("<cas:a>", 40) + strings.Repeat("</cas:a>", 40)
	for name, body := range map[string]string{
		"empty":                 "",
		"not XML":               "yes\nmarie.durand@example.fr\n",
		"CAS 1.0 answer":        "yes\nmarie.durand\n",
		"truncated":             fixture[:len(fixture)/2],
		"another namespace":     strings.ReplaceAll(fixture, "http://www.yale.edu/tp/cas", "http://example.org/cas"),
		"no namespace":          `<serviceResponse><authenticationSuccess><user>u</user></authenticationSuccess></serviceResponse>`,
		"a DTD":                 `<!DOCTYPE x [<!ENTITY e "marie.durand@example.fr">]>` + fixture,
		"two roots":             fixture + fixture,
		"text after the root":   fixture + "marie.durand@example.fr",
		"success and failure":   strings.Replace(fixture, "</cas:serviceResponse>", `<cas:authenticationFailure code="INVALID_TICKET"/></cas:serviceResponse>`, 1),
		"no user":               strings.Replace(fixture, "<cas:user>a3f0c2d1-7b4e-4c1a-9e2f-5d6b8c0e1f23</cas:user>", "", 1),
		"an empty user":         strings.Replace(fixture, "a3f0c2d1-7b4e-4c1a-9e2f-5d6b8c0e1f23", "", 1),
		"a user with a newline": strings.Replace(fixture, "a3f0c2d1-7b4e-4c1a-9e2f-5d6b8c0e1f23", "a&#10;b", 1),
		"proxy answer":          `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:proxySuccess><cas:proxyTicket>PT-1</cas:proxyTicket></cas:proxySuccess></cas:serviceResponse>`,
		"too deep":              `<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user>u</cas:user>` + deep + `</cas:authenticationSuccess></cas:serviceResponse>`,
		"latin-1":               `<?xml version="1.0" encoding="ISO-8859-1"?>` + fixture,
		"mismatched tags":       strings.Replace(fixture, "</cas:attributes>", "</cas:attribute>", 1),
	} {
		id, err := readAnswer([]byte(body), Mapping{Preset: PresetEntcoreGeneric})
		if !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("%s: error %v, want ErrMalformedResponse", name, err)
		}
		if !reflect.DeepEqual(id, connect.Identity{}) {
			t.Errorf("%s: identity %+v, want none", name, id)
		}
		for _, v := range personalValues() {
			if err != nil && strings.Contains(err.Error(), v) {
				t.Errorf("%s: the error %q quotes the answer", name, err)
			}
		}
	}
}

func TestFailureAnswers(t *testing.T) {
	for body, code := range map[string]string{
		`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure code="INVALID_TICKET">Ticket ST-1 not recognized</cas:authenticationFailure></cas:serviceResponse>`: "INVALID_TICKET",
		`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure code="INVALID_SERVICE">bad service</cas:authenticationFailure></cas:serviceResponse>`:               "INVALID_SERVICE",
		`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure code="marie.durand@example.fr">x</cas:authenticationFailure></cas:serviceResponse>`:                 "UNKNOWN",
		`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure>no code</cas:authenticationFailure></cas:serviceResponse>`:                                          "UNKNOWN",
	} {
		_, err := readAnswer([]byte(body), Mapping{Preset: PresetEntcoreGeneric})
		var refused *RefusedError
		if !errors.As(err, &refused) || refused.Code != code {
			t.Errorf("%.90s…: error %v, want refused %s", body, err, code)
		}
	}
}

func TestCustomMapping(t *testing.T) {
	m := Mapping{Preset: PresetCustom, UserID: "uid", Profile: "ENTPersonProfils", UAI: "ENTPersonStructRattachRNE", Class: "ENTEleveClasses"}
	attrs := func(inner string) []byte {
		return []byte(`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user>marie.durand</cas:user><cas:attributes>` +
			`<cas:mail>marie.durand@example.fr</cas:mail><cas:sn>Durand</cas:sn>` + inner + `</cas:attributes></cas:authenticationSuccess></cas:serviceResponse>`)
	}
	for name, c := range map[string]struct {
		m    Mapping
		body []byte
		want connect.Identity
	}{
		"one school, its classes": {m, attrs(`<cas:uid>U1</cas:uid><cas:ENTPersonProfils>National_2</cas:ENTPersonProfils><cas:ENTPersonStructRattachRNE>0801234g</cas:ENTPersonStructRattachRNE>` +
			`<cas:ENTEleveClasses>ce2</cas:ENTEleveClasses><cas:ENTEleveClasses>PS</cas:ENTEleveClasses>`),
			connect.Identity{UserID: "U1", Profile: connect.ProfileRelative, Children: []connect.Child{{UAI: uaiElem, Level: "elementaire", Class: "CE2"}, {UAI: uaiElem, Level: "maternelle", Class: "PS"}}}},
		"two schools, classes named by school": {m, attrs(`<cas:uid>U1</cas:uid><cas:ENTPersonProfils>PERSRELELEVE</cas:ENTPersonProfils><cas:ENTPersonStructRattachRNE>0801234G</cas:ENTPersonStructRattachRNE>` +
			`<cas:ENTPersonStructRattachRNE>0805678M</cas:ENTPersonStructRattachRNE><cas:ENTEleveClasses>0801234G$CM1</cas:ENTEleveClasses><cas:ENTEleveClasses>CP</cas:ENTEleveClasses>`),
			connect.Identity{UserID: "U1", Profile: connect.ProfileRelative, Children: []connect.Child{{UAI: uaiElem, Level: "elementaire", Class: "CM1"}, {UAI: uaiMat}}}},
		"cas:user as the id, a pupil": {Mapping{Preset: PresetCustom, Profile: "ENTPersonProfils", UAI: "ENTPersonStructRattachRNE"},
			attrs(`<cas:ENTPersonProfils>Student</cas:ENTPersonProfils><cas:ENTPersonStructRattachRNE>0801234G</cas:ENTPersonStructRattachRNE>`),
			connect.Identity{UserID: "marie.durand", Profile: connect.ProfileStudent, Children: []connect.Child{{UAI: uaiElem}}}},
		"parent values of the connector": {Mapping{Preset: PresetCustom, UserID: "uid", Profile: "role", ParentValues: []string{"famille"}, UAI: "rne"},
			attrs(`<cas:uid>U2</cas:uid><cas:role>Famille</cas:role><cas:rne>0805678M</cas:rne>`),
			connect.Identity{UserID: "U2", Profile: connect.ProfileRelative, Children: []connect.Child{{UAI: uaiMat}}}},
		"children released one by one": {Mapping{Preset: PresetCustom, UserID: "uid", Profile: "role", ChildID: "childId", ChildSchool: "childUAI", ChildClass: "childClass"},
			attrs(`<cas:uid>U3</cas:uid><cas:role>Relative</cas:role><cas:childId>c1</cas:childId><cas:childUAI>0801234G</cas:childUAI><cas:childClass>CM2</cas:childClass>` +
				`<cas:childId>c2</cas:childId><cas:childUAI>0801234G</cas:childUAI><cas:childClass>CM2</cas:childClass>`),
			connect.Identity{UserID: "U3", Profile: connect.ProfileRelative, Children: []connect.Child{{UAI: uaiElem, Level: "elementaire", Class: "CM2"}, {UAI: uaiElem, Level: "elementaire", Class: "CM2"}}}},
	} {
		id, err := readAnswer(c.body, c.m)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(id, c.want) {
			t.Errorf("%s: identity %+v, want %+v", name, id, c.want)
		}
		if s := fmt.Sprintf("%#v", id); strings.Contains(s, "example.fr") || strings.Contains(s, "Durand") {
			t.Errorf("%s: personal data kept: %s", name, s)
		}
	}

	// Attributes that do not pair are refused rather than guessed.
	_, err := readAnswer(attrs(`<cas:uid>U3</cas:uid><cas:role>Relative</cas:role><cas:childId>c1</cas:childId><cas:childId>c2</cas:childId><cas:childUAI>0801234G</cas:childUAI>`),
		Mapping{Preset: PresetCustom, UserID: "uid", Profile: "role", ChildID: "childId", ChildSchool: "childUAI"})
	if !errors.Is(err, ErrMalformedResponse) {
		t.Errorf("unpaired child attributes: %v, want ErrMalformedResponse", err)
	}
	_, err = readAnswer(attrs(`<cas:uid>A</cas:uid><cas:uid>B</cas:uid>`), m)
	if !errors.Is(err, ErrMalformedResponse) {
		t.Errorf("two user ids: %v, want ErrMalformedResponse", err)
	}
}

func FuzzReadAnswer(f *testing.F) {
	f.Add(castest.Success(parentUser(), castest.VariantUAI, fixedNow))
	f.Add(castest.Success(parentUser(), castest.VariantExternalID, fixedNow))
	f.Add([]byte(`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure code="INVALID_TICKET"/></cas:serviceResponse>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []Mapping{{Preset: PresetEntcoreGeneric}, {Preset: PresetCustom, UserID: "uid", Profile: "profile", UAI: "UAI", Class: "classe"}} {
			id, err := readAnswer(data, m)
			if err == nil && id.UserID == "" {
				t.Fatal("an identity without user id")
			}
			if err != nil && !reflect.DeepEqual(id, connect.Identity{}) {
				t.Fatal("an identity with an error")
			}
		}
	})
}
