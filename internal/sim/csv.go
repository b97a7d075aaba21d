package sim

import (
	"encoding/csv"
	"io"
	"strconv"
)

// CSVHeader is the header line of WriteCSV, one column per field of Day.
var CSVHeader = []string{"day", "date", "registered", "renewing", "unregistered", "renewals",
	"renewalCyclesFailed", "retries", "expiries", "reRegistrations", "unregisteredSeconds"}

// WriteCSV writes the per-day series: a header line, then one line per day.
func WriteCSV(w io.Writer, res Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, d := range res.Days {
		row := []string{strconv.Itoa(d.Day), d.Date, strconv.Itoa(d.Registered), strconv.Itoa(d.Renewing),
			strconv.Itoa(d.Unregistered), strconv.Itoa(d.Renewals), strconv.Itoa(d.RenewalCyclesFailed),
			strconv.Itoa(d.Retries), strconv.Itoa(d.Expiries), strconv.Itoa(d.ReRegistrations),
			strconv.FormatFloat(d.UnregisteredSeconds, 'f', -1, 64)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
