package secretsemu

// ClearFaults drops every fault FailNext queued that has not fired yet: the outage
// a test staged is over.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}
