package importer

// This file holds the report of a running import and its progress callbacks.

import (
	"slices"
	"time"
)

func (ru *run) snapshotReport() *Report {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	rep := ru.report.clone()
	rep.LWACalls = int(ru.lwaCalls.Load())
	rep.DoneThroughLine = ru.doneThroughLocked()
	rep.DoneAfter = nil
	for l := range ru.ahead {
		if l > rep.DoneThroughLine {
			rep.DoneAfter = append(rep.DoneAfter, l)
		}
	}
	for _, l := range ru.im.cfg.SkipLines {
		if l > rep.DoneThroughLine {
			rep.DoneAfter = append(rep.DoneAfter, l)
		}
	}
	slices.Sort(rep.DoneAfter)
	rep.DoneAfter = slices.Compact(rep.DoneAfter)
	return rep
}

func (ru *run) progressLoop(rd *Reader) (stop func()) {
	if ru.im.d.Progress == nil {
		return func() {}
	}
	snap := func(done bool) Progress {
		ru.mu.Lock()
		defer ru.mu.Unlock()
		p := Progress{Rows: ru.report.Rows, Counts: map[Outcome]int{}, BytesRead: rd.BytesRead(), LWACalls: int(ru.lwaCalls.Load()),
			Elapsed: ru.im.d.Clock.Now().Sub(ru.now), DoneThroughLine: ru.doneThroughLocked(), Done: done}
		for k, v := range ru.report.Counts {
			p.Counts[k] = v
		}
		return p
	}
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(ru.im.d.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				ru.im.d.Progress(snap(true))
				return
			case <-t.C:
				ru.im.d.Progress(snap(false))
			}
		}
	}()
	return func() { close(quit); <-ended }
}
