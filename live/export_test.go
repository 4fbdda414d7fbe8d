package live

// CheckSnapshots makes r's snapshots hand check each session's picture,
// as they take it (reused or not), and the same picture built anew,
// under the session's lock: a reused picture must equal the fresh one.
// Call it before r is used.
func CheckSnapshots(r *Registry, check func(got, fresh *SessionSnap)) { r.checkSnap = check }
