package sim

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"
)

// The page's geometry, in SVG user units (pixels at 100 %).
const (
	pageWidth   = 1200
	plotLeft    = 70
	plotRight   = 20
	chartHeight = 240
	laneHeight  = 16
	axisHeight  = 34
)

// page renders a Result as one self-contained HTML page: inline SVG and
// CSS, no script, nothing fetched.
type page struct {
	res    Result
	b      strings.Builder
	period time.Duration
}

// WriteHTML writes the timeline page of res: a summary, the clients
// registered, renewing and unregistered per hour with the outages shaded
// and the expiries marked, and, for MaxLanes clients or fewer, one lane per
// client with its instances, renewals, failed renewal cycles, unregistered
// stretches, restarts and expiries.
func WriteHTML(w io.Writer, res Result) error {
	p := &page{res: res, period: res.End.Sub(res.Start)}
	if p.period <= 0 {
		p.period = time.Hour
	}
	p.head()
	p.summary()
	p.chart()
	if len(res.Lanes) > 0 {
		p.lanes()
	}
	p.b.WriteString("</body>\n</html>\n")
	_, err := io.WriteString(w, p.b.String())
	return err
}

func (p *page) f(format string, args ...any) { fmt.Fprintf(&p.b, format, args...) }

// x maps a time to the plot's horizontal coordinate.
func (p *page) x(t time.Time) float64 {
	frac := float64(t.Sub(p.res.Start)) / float64(p.period)
	frac = min(max(frac, 0), 1)
	return plotLeft + frac*float64(pageWidth-plotLeft-plotRight)
}

func (p *page) head() {
	r := p.res
	p.f(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sinchsim simulate: %d clients over %s</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.params { color: #555; margin: 0 0 16px; }
table.summary { border-collapse: collapse; margin-bottom: 16px; }
table.summary td { padding: 2px 16px 2px 0; }
table.summary td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.legend span { display: inline-block; margin-right: 16px; }
.sw { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px; }
</style>
</head>
<body>
<h1>sinchsim simulate: %d clients over %s</h1>
`, r.Bots, html.EscapeString(Short(r.Period)), r.Bots, html.EscapeString(Short(r.Period)))
	params := []string{"from " + r.Start.Format("2006-01-02 15:04") + " to " + r.End.Format("2006-01-02 15:04"),
		"instance TTL " + Short(r.InstanceTTL), "renewal policy " + r.RenewalPolicy}
	if r.RenewalFailureRate > 0 {
		params = append(params, fmt.Sprintf("renewal failure rate %g per cycle", r.RenewalFailureRate))
	}
	if r.Stagger != "0s" {
		params = append(params, "starts spread over "+Short(r.Stagger))
	}
	if r.RestartEvery != "0s" {
		params = append(params, "restart every "+Short(r.RestartEvery))
	}
	params = append(params, r.Transport+" transport", fmt.Sprintf("seed %d", r.Seed))
	p.f("<p class=\"params\">%s</p>\n", html.EscapeString(strings.Join(params, " · ")))
}

func (p *page) summary() {
	r := p.res
	p.b.WriteString(`<table class="summary">` + "\n")
	row := func(name, value string) {
		p.f("<tr><td>%s</td><td class=\"n\">%s</td></tr>\n", name, html.EscapeString(value))
	}
	row("renewals", thousands(uint64(r.Renewals)))
	row("renewal cycles failed", thousands(uint64(r.RenewalCyclesFailed)))
	row("retries", thousands(uint64(r.Retries)))
	row("expiries", fmt.Sprintf("%s (%s users)", thousands(uint64(r.Expiries)), thousands(uint64(r.ExpiredUsersTotal))))
	row("re-registrations", thousands(uint64(r.ReRegistrations)))
	if r.FirstExpiry != nil {
		row("first expiry", r.FirstExpiry.Format("2006-01-02 15:04:05"))
		row("last expiry", r.LastExpiry.Format("2006-01-02 15:04:05"))
	}
	row("time unregistered (sum, longest)", fmt.Sprintf("%s, %s", seconds(r.UnregisteredSeconds.Sum), seconds(r.UnregisteredSeconds.Max)))
	for _, o := range r.Outages {
		row("auth server down", ShortWindow(o))
	}
	for _, o := range r.BackendOutages {
		row("backend down", ShortWindow(o))
	}
	p.b.WriteString("</table>\n")
}

// seconds renders a number of seconds as a duration to the second.
func seconds(s float64) string {
	return (time.Duration(s*float64(time.Second)) + time.Second/2).Truncate(time.Second).String()
}

// chart draws the per-hour timeline.
func (p *page) chart() {
	r := p.res
	top, bottom := 28.0, 28.0+chartHeight
	p.f(`<div class="legend"><span><i class="sw" style="background:#2e7d32"></i>registered (at the end of each hour)</span><span><i class="sw" style="background:#1565c0"></i>renewing (during the hour)</span><span><i class="sw" style="background:#c62828"></i>unregistered (during the hour)</span><span><i class="sw" style="background:#ef6c00;opacity:.35"></i>auth server down</span><span><i class="sw" style="background:#616161;opacity:.35"></i>backend down</span><span style="color:#c62828">&#9660; expiries</span></div>
`)
	p.f(`<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">
`, pageWidth, int(bottom)+axisHeight, pageWidth, int(bottom)+axisHeight)
	p.outages(top, bottom)
	maxY := max(r.Bots, 1)
	y := func(v int) float64 { return bottom - float64(v)/float64(maxY)*(bottom-top) }
	for _, v := range []int{0, maxY / 2, maxY} {
		p.f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>
`, plotLeft, pageWidth-plotRight, y(v), y(v), plotLeft-6, y(v)+4, thousands(uint64(v)))
	}
	buckets := p.buckets()
	series := []struct {
		name, color string
		val         func(Hour) int
	}{
		{"unregistered", "#c62828", func(h Hour) int { return h.Unregistered }},
		{"renewing", "#1565c0", func(h Hour) int { return h.Renewing }},
		{"registered", "#2e7d32", func(h Hour) int { return h.Registered }},
	}
	for _, s := range series {
		var pts strings.Builder
		for _, bk := range buckets {
			fmt.Fprintf(&pts, "%.1f,%.1f ", p.x(bk.at), y(s.val(bk.h)))
		}
		p.f(`<polyline class="series %s" fill="none" stroke="%s" stroke-width="1.5" points="%s"/>
`, s.name, s.color, strings.TrimSpace(pts.String()))
	}
	for _, bk := range buckets {
		if bk.h.Expiries > 0 {
			x := p.x(bk.at)
			p.f(`<path class="expiry" data-count="%d" d="M%.1f %.1f l-4 -8 h8 z" fill="#c62828"><title>%d expiries in the hour to %s</title></path>
`, bk.h.Expiries, x, top-2, bk.h.Expiries, bk.at.Format("2006-01-02 15:04"))
		}
	}
	p.axis(bottom)
	p.b.WriteString("</svg>\n")
}

// bucket is one point of the chart: an hour, or several hours when the
// period has more hours than the plot has pixels to show them.
type bucket struct {
	at time.Time // the bucket's end
	h  Hour
}

// buckets returns the hours, merged so that there are at most about two
// points per pixel: registered as at the bucket's end; renewing,
// unregistered and expiries as their largest, largest and sum.
func (p *page) buckets() []bucket {
	hours := p.res.Hours
	per := max(1, (len(hours)+2*(pageWidth-plotLeft-plotRight)-1)/(2*(pageWidth-plotLeft-plotRight)))
	var out []bucket
	for i := 0; i < len(hours); i += per {
		var bk bucket
		for j := i; j < min(i+per, len(hours)); j++ {
			h := hours[j]
			bk.h.Registered = h.Registered
			bk.h.Renewing = max(bk.h.Renewing, h.Renewing)
			bk.h.Unregistered = max(bk.h.Unregistered, h.Unregistered)
			bk.h.Expiries += h.Expiries
			bk.at = p.res.Start.Add(time.Duration(j+1) * time.Hour)
		}
		if bk.at.After(p.res.End) {
			bk.at = p.res.End
		}
		out = append(out, bk)
	}
	return out
}

// outages shades the outage windows between top and bottom.
func (p *page) outages(top, bottom float64) {
	draw := func(list []string, class, color, label string) {
		for _, s := range list {
			w, err := ParseWindow(s)
			if err != nil {
				continue
			}
			x0, x1 := p.x(p.res.Start.Add(w.Start)), p.x(p.res.Start.Add(w.End()))
			p.f(`<rect class="outage %s" data-window="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.3"><title>%s %s</title></rect>
`, class, html.EscapeString(s), x0, top, max(x1-x0, 1), bottom-top, color, label, html.EscapeString(ShortWindow(s)))
		}
	}
	draw(p.res.Outages, "auth", "#ef6c00", "auth server down")
	draw(p.res.BackendOutages, "backend", "#616161", "backend down")
}

// axis draws the time axis under y: dates, and days since the start.
func (p *page) axis(y float64) {
	days := int(p.period / (24 * time.Hour))
	step := 1
	for _, s := range []int{1, 2, 7, 14, 30, 61, 91, 182, 365} {
		step = s
		if days/s <= 12 {
			break
		}
	}
	p.f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#999"/>
`, plotLeft, pageWidth-plotRight, y, y)
	for d := 0; d <= days; d += step {
		t := p.res.Start.Add(time.Duration(d) * 24 * time.Hour)
		x := p.x(t)
		p.f(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text><text x="%.1f" y="%.1f" text-anchor="middle" fill="#777">day %d</text>
`, x, x, y, y+4, x, y+16, t.Format("Jan 2"), x, y+29, d)
	}
}
