package amazonsim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Account types of a Seller.
const (
	AccountSeller = "seller" // Seller Central
	AccountVendor = "vendor" // Vendor Central: no Sellers API, no Product Fees API
)

// SignedInCookie is the simulated Seller Central session: the account a browser is
// signed in to (GET /apps/sign-in sets it). Each browser has its own, as at Amazon,
// so two browser contexts of one test can be two different people.
const SignedInCookie = "sim-signed-in"

// account is a Seller with its defaults applied: what the Sellers API answers.
type account struct {
	id               string
	storeName        string
	participating    []Marketplace // sorted by id
	notParticipating []Marketplace
	vendor           bool
}

// resolve applies the defaults of a Seller's account fields.
func (sl Seller) resolve() account {
	a := account{id: sl.ID, storeName: sl.StoreName, vendor: sl.AccountType == AccountVendor}
	if a.storeName == "" {
		a.storeName = sl.Name
	}
	if a.storeName == "" {
		a.storeName = "Store " + sl.ID
	}
	ids := slices.Clone(sl.MarketplaceIDs)
	for _, cc := range sl.CountryCodes {
		if m, ok := MarketplaceByCountry(cc); ok {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		ids = []string{DefaultMarketplaceID}
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		a.participating = append(a.participating, marketplaceOrStub(id))
	}
	for _, id := range sl.NotParticipatingIDs {
		if !slices.Contains(ids, id) {
			a.notParticipating = append(a.notParticipating, marketplaceOrStub(id))
		}
	}
	return a
}

// accountLocked is the account of sellerID: a configured or added one, or, for an id
// the simulator was never told about (tests that issue tokens for made-up sellers),
// a default seller account named after the id.
func (s *Sim) accountLocked(sellerID string) account {
	for _, sl := range s.accounts {
		if sl.ID == sellerID {
			return sl.resolve()
		}
	}
	return Seller{ID: sellerID}.resolve()
}

// AddSeller adds an account that can sign in, or replaces the account with the same
// id (its store name, marketplaces, type): a store renamed or a marketplace added
// between two consents, as sellers do.
func (s *Sim) AddSeller(sl Seller) error {
	if err := sl.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.accounts {
		if s.accounts[i].ID == sl.ID {
			s.accounts[i] = sl
			return nil
		}
	}
	s.accounts = append(s.accounts, sl)
	return nil
}

// Validate says what is wrong with an account: an id with spaces, an unknown country
// code or account type.
func (sl Seller) Validate() error {
	switch {
	case sl.ID == "" || strings.ContainsFunc(sl.ID, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return errors.New("a seller needs an id without spaces or control characters")
	case sl.AccountType != "" && sl.AccountType != AccountSeller && sl.AccountType != AccountVendor:
		return fmt.Errorf("account type %q: want %q or %q", sl.AccountType, AccountSeller, AccountVendor)
	}
	for _, cc := range sl.CountryCodes {
		if _, ok := MarketplaceByCountry(cc); !ok {
			return fmt.Errorf("unknown marketplace country code %q", cc)
		}
	}
	return nil
}

// Sellers returns the accounts that can sign in, in order.
func (s *Sim) Sellers() []Seller {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accounts)
}

// SetSignedIn makes sellerID the account the consent page preselects for every browser
// that has not signed in itself (GET /apps/sign-in), as if that person were signed in
// to Seller Central. Empty: back to the first account.
func (s *Sim) SetSignedIn(sellerID string) error {
	if sellerID != "" {
		if _, ok := s.seller(sellerID); !ok {
			return fmt.Errorf("unknown seller %q", sellerID)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signedIn = sellerID
	return nil
}

// SignedIn is the account SetSignedIn chose; empty when it is the first account.
func (s *Sim) SignedIn() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signedIn
}

// signedInFor is the account a request's browser is signed in to: its session cookie,
// else SetSignedIn's choice, else the first account. "" if no account exists.
func (s *Sim) signedInFor(r *http.Request) string {
	if c, err := r.Cookie(SignedInCookie); err == nil {
		if _, ok := s.seller(c.Value); ok {
			return c.Value
		}
	}
	return s.defaultSignedIn()
}

// defaultSignedIn is the account of a browser that has not signed in itself.
func (s *Sim) defaultSignedIn() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signedIn != "" {
		return s.signedIn
	}
	if len(s.accounts) > 0 {
		return s.accounts[0].ID
	}
	return ""
}

// signIn serves GET /apps/sign-in?selling_partner_id=X: this browser is now signed in
// to X (a session cookie), and goes back to Manage Your Apps.
func (s *Sim) signIn(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("selling_partner_id")
	if _, ok := s.seller(id); !ok {
		s.errorPage(w, http.StatusBadRequest, "There is no selling account with that id to sign in to.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SignedInCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s.log.Info("signed in", "selling_partner_id", id)
	http.Redirect(w, r, "/apps/manage", http.StatusFound)
}

// sellerBodyJSON is an account in the admin API.
type sellerBodyJSON struct {
	ID                  string   `json:"sellingPartnerId"`
	Name                string   `json:"name"`
	Email               string   `json:"email"`
	StoreName           string   `json:"storeName"`
	MarketplaceIDs      []string `json:"marketplaceIds"`
	CountryCodes        []string `json:"countryCodes"`
	NotParticipatingIDs []string `json:"notParticipatingIds"`
	AccountType         string   `json:"accountType"`
}

// adminSeller serves POST /_sim/seller: AddSeller.
func (s *Sim) adminSeller(w http.ResponseWriter, r *http.Request) {
	var b sellerBodyJSON
	if !readJSON(w, r, &b) {
		return
	}
	sl := Seller{ID: b.ID, Name: b.Name, Email: b.Email, StoreName: b.StoreName, MarketplaceIDs: b.MarketplaceIDs,
		CountryCodes: b.CountryCodes, NotParticipatingIDs: b.NotParticipatingIDs, AccountType: b.AccountType}
	if err := s.AddSeller(sl); err != nil {
		adminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"seller": sl.ID})
}

// adminSignedIn serves POST /_sim/signed-in: SetSignedIn.
func (s *Sim) adminSignedIn(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ID string `json:"sellingPartnerId"`
	}
	if !readJSON(w, r, &b) {
		return
	}
	if err := s.SetSignedIn(b.ID); err != nil {
		adminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"signedIn": s.defaultSignedIn()})
}
