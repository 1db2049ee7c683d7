package api

import "github.com/liaison-ent/liaison/widget"

// widgetAssets loads the embedded widget files, the service-worker code
// defaulting to this instance's public URL as API base.
func (s *Server) widgetAssets() *widget.Assets {
	a, err := widget.New(s.cfg.PublicURL())
	if err != nil {
		panic(err) // embedded at build time: cannot fail at run time
	}
	return a
}
