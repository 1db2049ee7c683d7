package cas

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	generic := Mapping{Preset: PresetEntcoreGeneric}
	customOK := Mapping{Preset: PresetCustom, Profile: "profile", UAI: "uai", Class: "classe"}
	for _, ok := range []Config{
		{BaseURL: "https://ent.example.fr", Version: Version2, Mapping: generic},
		{BaseURL: "https://ent.example.fr/", PathPrefix: "/sso/cas", Version: Version3, Mapping: customOK},
		{BaseURL: "http://127.0.0.1:8081", Version: Version2, Mapping: generic},
		{BaseURL: "http://localhost:8081", Version: Version2, Mapping: Mapping{Preset: PresetCustom, UserID: "uid", Profile: "p", ChildID: "cid", ChildSchool: "cuai", ChildClass: "cclass"}},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for name, c := range map[string]struct {
		cfg    Config
		fields []string
	}{
		"empty":                 {Config{}, []string{"base_url", "version", "mapping.preset"}},
		"http outside loopback": {Config{BaseURL: "http://ent.example.fr", Version: Version2, Mapping: generic}, []string{"base_url"}},
		"relative":              {Config{BaseURL: "ent.example.fr", Version: Version2, Mapping: generic}, []string{"base_url"}},
		"query and user":        {Config{BaseURL: "https://u:p@ent.example.fr/?x=1", Version: Version2, Mapping: generic}, []string{"base_url"}},
		"bad path and version":  {Config{BaseURL: "https://ent.example.fr", PathPrefix: "cas", Version: "1.0", Mapping: generic}, []string{"path_prefix", "version"}},
		"generic with fields":   {Config{BaseURL: "https://ent.example.fr", Version: Version2, Mapping: Mapping{Preset: PresetEntcoreGeneric, UAI: "rne", ParentValues: []string{"x"}}}, []string{"mapping.uai", "mapping.parent_values"}},
		"custom without profile or school": {Config{BaseURL: "https://ent.example.fr", Version: Version3, Mapping: Mapping{Preset: PresetCustom}},
			[]string{"mapping.profile", "mapping.uai"}},
		"custom with bad names": {Config{BaseURL: "https://ent.example.fr", Version: Version3, Mapping: Mapping{Preset: PresetCustom, Profile: "1profile", UAI: "u a i", ChildID: "cid"}},
			[]string{"mapping.profile", "mapping.uai", "mapping.child_id"}},
		// Review 14, finding 7: the user id is stored; no personal data.
		"custom with an e-mail as user id": {Config{BaseURL: "https://ent.example.fr", Version: Version3, Mapping: Mapping{Preset: PresetCustom, UserID: "mail", Profile: "p", UAI: "u"}},
			[]string{"mapping.user_id"}},
		"custom with a login as user id": {Config{BaseURL: "https://ent.example.fr", Version: Version3, Mapping: Mapping{Preset: PresetCustom, UserID: "login", Profile: "p", UAI: "u"}},
			[]string{"mapping.user_id"}},
		"child class alone": {Config{BaseURL: "https://ent.example.fr", Version: Version3, Mapping: Mapping{Preset: PresetCustom, Profile: "p", UAI: "u", ChildClass: "c"}},
			[]string{"mapping.child_class"}},
	} {
		err := c.cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v, want a ConfigError", name, err)
			continue
		}
		var fields []string
		for _, f := range ce.Fields {
			if f.FR == "" || f.EN == "" || !strings.Contains(err.Error(), f.Field) {
				t.Errorf("%s: %+v lacks a sentence or is not in %q", name, f, err)
			}
			if !slices.Contains(fields, f.Field) {
				fields = append(fields, f.Field)
			}
		}
		if !slices.Equal(fields, c.fields) {
			t.Errorf("%s: fields %v, want %v", name, fields, c.fields)
		}
		if _, err := New(c.cfg, Options{}); !errors.As(err, &ce) {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
