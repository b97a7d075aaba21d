package sim

import (
	"html"
	"time"
)

// lanes draws one lane per client: its instances (green, ending in a red
// cross when they expired), renewals (blue ticks), failed renewal cycles
// (orange), unregistered stretches (red) and restarts (grey dots).
func (p *page) lanes() {
	lanes := p.res.Lanes
	top := 8.0
	height := int(top) + len(lanes)*laneHeight + axisHeight
	p.f(`<h2 style="font-size:16px;margin:20px 0 4px">One lane per client</h2>
<div class="legend"><span><i class="sw" style="background:#81c784"></i>instance</span><span><i class="sw" style="background:#1565c0"></i>renewal</span><span><i class="sw" style="background:#ef6c00"></i>failed renewal cycle</span><span><i class="sw" style="background:#e57373"></i>unregistered</span><span><i class="sw" style="background:#616161;border-radius:6px"></i>restart</span><span style="color:#c62828">&#10005; expiry</span></div>
<svg class="lanes" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">
`, pageWidth, height, pageWidth, height)
	p.outages(top, top+float64(len(lanes)*laneHeight))
	for i, l := range lanes {
		y := top + float64(i*laneHeight)
		p.lane(l, y)
	}
	p.axis(top + float64(len(lanes)*laneHeight))
	p.b.WriteString("</svg>\n")
}

func (p *page) lane(l Lane, y float64) {
	user := html.EscapeString(l.User)
	mid := y + laneHeight/2
	p.f(`<g class="lane" data-user="%s"><text x="%d" y="%.1f" text-anchor="end">%s</text>
`, user, plotLeft-6, mid+4, user)
	for _, s := range l.Unregistered {
		p.span("unregistered", s, y+1, laneHeight-2, "#e57373", "unregistered")
	}
	for _, inst := range l.Instances {
		p.span("instance", inst.Span, y+3, laneHeight-6, "#81c784", "instance")
	}
	for _, s := range l.FailedCycles {
		p.span("failed-cycle", s, y+laneHeight-4, 3, "#ef6c00", "failed renewal cycle")
	}
	for _, t := range l.Renewals {
		x := p.x(t)
		p.f(`<line class="renewal" data-at="%s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#1565c0" stroke-width="1.5"><title>renewed %s</title></line>
`, stamp(t), x, x, y+2, y+laneHeight-2, stamp(t))
	}
	for _, t := range l.Restarts {
		p.f(`<circle class="restart" data-at="%s" cx="%.1f" cy="%.1f" r="2.5" fill="#616161"><title>restarted %s</title></circle>
`, stamp(t), p.x(t), mid, stamp(t))
	}
	for _, inst := range l.Instances {
		if inst.Expired {
			x := p.x(inst.To)
			p.f(`<path class="expiry" data-at="%s" d="M%.1f %.1f l8 8 m0 -8 l-8 8" stroke="#c62828" stroke-width="2"><title>expired %s</title></path>
`, stamp(inst.To), x-4, mid-4, stamp(inst.To))
		}
	}
	p.b.WriteString("</g>\n")
}

// span draws a bar over s.
func (p *page) span(class string, s Span, y, h float64, color, title string) {
	x0, x1 := p.x(s.From), p.x(s.To)
	p.f(`<rect class="%s" data-from="%s" data-to="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s to %s</title></rect>
`, class, stamp(s.From), stamp(s.To), x0, y, max(x1-x0, 1), h, color, title, stamp(s.From), stamp(s.To))
}

// stamp formats a time for attributes and titles.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
