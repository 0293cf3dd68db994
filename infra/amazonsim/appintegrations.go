package amazonsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
)

// The Selling Partner API for App Integrations, v2024-04-01, as the simulator plays
// it: createNotification posts an app notification to the seller's Seller Central
// home page from one of the app's approved templates, deleteNotifications withdraws
// the app's notifications of a template for the seller. Both need a seller's access
// token and the app's "Notifications in Seller Central" role; each has the usage
// plan rate 1 request a second, burst 5, per seller and app. See
// https://developer-docs.amazon.com/sp-api/docs/app-integrations-api-v2024-04-01-reference.
const (
	NotificationsPath        = "/appIntegrations/2024-04-01/notifications"
	NotificationDeletionPath = "/appIntegrations/2024-04-01/notifications/deletion"
	// AppIntegrationsRate and AppIntegrationsBurst are both operations' usage plan.
	AppIntegrationsRate  = 1.0
	AppIntegrationsBurst = 5.0
	// FaultCreateNotification and FaultDeleteNotifications queue a fault for the next
	// call of the operation.
	FaultCreateNotification  = "createNotification"
	FaultDeleteNotifications = "deleteNotifications"
)

// AppNotification is one notification the simulator holds for a seller.
type AppNotification struct {
	ID            string
	SellerID      string
	TemplateID    string
	MarketplaceID string
	Parameters    map[string]string
	CreatedAt     time.Time
}

// appIntegrations is the simulator's App Integrations state, guarded by Sim.mu.
type appIntegrations struct {
	noRole    bool                // the app lacks the Notifications in Seller Central role
	templates map[string][]string // approved template id → its parameter names
	notes     []AppNotification
	deleted   int
}

// ApproveNotificationTemplate makes templateID an approved template of the app with
// exactly these parameters, as Amazon's review does.
func (s *Sim) ApproveNotificationTemplate(templateID string, params ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appNotes.templates == nil {
		s.appNotes.templates = map[string][]string{}
	}
	sort.Strings(params)
	s.appNotes.templates[templateID] = params
}

// SetNotificationsRole gives or takes the app's "Notifications in Seller Central" role.
func (s *Sim) SetNotificationsRole(has bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appNotes.noRole = !has
}

// AppNotifications returns the notifications sellerID has now, oldest first.
func (s *Sim) AppNotifications(sellerID string) []AppNotification {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AppNotification
	for _, n := range s.appNotes.notes {
		if n.SellerID == sellerID {
			out = append(out, n)
		}
	}
	return out
}

func (s *Sim) appIntegrationsRoutes(mux *http.ServeMux) {
	mux.HandleFunc(NotificationsPath, s.createNotification)
	mux.HandleFunc(NotificationDeletionPath, s.deleteNotifications)
}

// sellerCall checks what both operations check, in Amazon's order: method, a seller's
// access token, the role, an injected fault, the usage plan. It answers and returns
// false when the call stops there.
func (s *Sim) sellerCall(w http.ResponseWriter, r *http.Request, op string) (sellerID string, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeSPError(w, http.StatusMethodNotAllowed, "InvalidInput", "The operation accepts POST only.")
		return "", false
	}
	seller, valid := s.AccessTokenSeller(r.Header.Get("x-amz-access-token"))
	if !valid || seller == "" {
		writeSPError(w, http.StatusForbidden, "Unauthorized", "Access to requested resource is denied.")
		return "", false
	}
	s.mu.Lock()
	noRole := s.appNotes.noRole
	s.mu.Unlock()
	if noRole {
		writeSPError(w, http.StatusForbidden, "Unauthorized", "Access to requested resource is denied. The application does not have the role required for this operation.")
		return "", false
	}
	if f, ok := s.takeFault(op); ok {
		sleep(r.Context(), f.Delay)
		if f.Status != 0 {
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
			}
			writeSPError(w, f.Status, spCode(f.Status), http.StatusText(f.Status))
			return "", false
		}
	}
	s.mu.Lock()
	allowed := s.takeQuotaLocked(op, seller, AppIntegrationsRate, AppIntegrationsBurst) // sellers.go
	s.mu.Unlock()
	if !allowed {
		writeSPError(w, http.StatusTooManyRequests, "QuotaExceeded", "You exceeded your quota for the requested resource.")
		return "", false
	}
	w.Header().Set("x-amzn-RateLimit-Limit", strconv.FormatFloat(AppIntegrationsRate, 'f', -1, 64))
	return seller, true
}

// createNotification serves POST /appIntegrations/2024-04-01/notifications.
func (s *Sim) createNotification(w http.ResponseWriter, r *http.Request) {
	seller, ok := s.sellerCall(w, r, FaultCreateNotification)
	if !ok {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		writeSPError(w, http.StatusUnsupportedMediaType, "InvalidInput", "The request's Content-Type is not supported.")
		return
	}
	var req struct {
		TemplateID             string            `json:"templateId"`
		NotificationParameters map[string]string `json:"notificationParameters"`
		MarketplaceID          string            `json:"marketplaceId"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeSPError(w, http.StatusBadRequest, "InvalidInput", "The request body is not valid JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	params, approved := s.appNotes.templates[req.TemplateID]
	s.mu.Unlock()
	if req.TemplateID == "" || !approved {
		writeSPError(w, http.StatusBadRequest, "InvalidInput", "The templateId is not an approved notification template of this application.")
		return
	}
	var got []string
	for k := range req.NotificationParameters {
		got = append(got, k)
	}
	sort.Strings(got)
	if !slices.Equal(got, params) {
		writeSPError(w, http.StatusBadRequest, "InvalidInput", "The notificationParameters must match the template's parameters.")
		return
	}
	n := AppNotification{ID: requestID(), SellerID: seller, TemplateID: req.TemplateID, MarketplaceID: req.MarketplaceID,
		Parameters: req.NotificationParameters, CreatedAt: s.clock()}
	s.mu.Lock()
	s.appNotes.notes = append(s.appNotes.notes, n)
	s.mu.Unlock()
	s.log.Info("app notification created", "seller", seller, "template", n.TemplateID, "notificationId", n.ID)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]string{"notificationId": n.ID})
}

// deleteNotifications serves POST /appIntegrations/2024-04-01/notifications/deletion.
func (s *Sim) deleteNotifications(w http.ResponseWriter, r *http.Request) {
	seller, ok := s.sellerCall(w, r, FaultDeleteNotifications)
	if !ok {
		return
	}
	var req struct {
		TemplateID     string `json:"templateId"`
		DeletionReason string `json:"deletionReason"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeSPError(w, http.StatusBadRequest, "InvalidInput", "The request body is not valid JSON: "+err.Error())
		return
	}
	if req.DeletionReason != "INCORRECT_CONTENT" && req.DeletionReason != "INCORRECT_RECIPIENT" {
		writeSPError(w, http.StatusBadRequest, "InvalidInput", "deletionReason must be INCORRECT_CONTENT or INCORRECT_RECIPIENT.")
		return
	}
	s.mu.Lock()
	_, approved := s.appNotes.templates[req.TemplateID]
	if !approved {
		s.mu.Unlock()
		writeSPError(w, http.StatusBadRequest, "InvalidInput", "The templateId is not an approved notification template of this application.")
		return
	}
	s.appNotes.notes = slices.DeleteFunc(s.appNotes.notes, func(n AppNotification) bool {
		if n.SellerID == seller && n.TemplateID == req.TemplateID {
			s.appNotes.deleted++
			return true
		}
		return false
	})
	s.mu.Unlock()
	w.Header().Set("x-amzn-RequestId", requestID())
	w.WriteHeader(http.StatusNoContent)
}
