package api

// directoryChanged invalidates every cached family count and parent.
func (s *Server) directoryChanged() { s.app.DirectoryChanged() }
