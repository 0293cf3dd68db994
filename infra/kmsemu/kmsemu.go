// Package kmsemu serves AWS KMS's JSON 1.1 protocol (TrentService) on this machine for
// tests and the local stack. It runs local-kms, a third-party KMS emulator, in
// process: real key material, real Encrypt and Decrypt with encryption context as
// authenticated data, and KMS's own error codes, so the production KMS client code
// runs unchanged against it.
package kmsemu

import (
	"net/http"
	"os"
	"sync"

	localkms "github.com/nsmithuk/local-kms/src"
	kmsconfig "github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

// Region and AccountID are what key ARNs name.
const (
	Region    = "us-east-1"
	AccountID = "111122223333"
)

var configure sync.Once

// Server is one emulator instance with its own key store.
type Server struct {
	db  *data.Database
	dir string
}

// New opens a key store in a fresh temporary folder; Close removes it.
func New() (*Server, error) {
	configure.Do(func() {
		// local-kms keeps these in package variables: every instance in a process shares them.
		kmsconfig.AWSRegion = Region
		kmsconfig.AWSAccountId = AccountID
	})
	dir, err := os.MkdirTemp("", "kmsemu-")
	if err != nil {
		return nil, err
	}
	return &Server{db: data.NewDatabase(dir), dir: dir}, nil
}

// ServeHTTP answers one KMS API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	localkms.HandleRequest(w, r, s.db)
}

// Close releases the key store and deletes its folder.
func (s *Server) Close() error {
	s.db.Close()
	return os.RemoveAll(s.dir)
}
