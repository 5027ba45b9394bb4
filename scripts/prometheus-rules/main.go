// Checks the Prometheus files of ops/ as Prometheus itself loads them, without building promtool:
//
//	prometheus-rules config FILE   the server configuration (scrape jobs, DNS discovery, rule files)
//	prometheus-rules rules FILE... rule files: the YAML shape, every PromQL expression, every template
//	prometheus-rules exprs         PromQL expressions, one per line on standard input (a dashboard's)
//
// Prints what it read, one item per line, so a test can check what is in the files too; exits 1
// with the errors on standard error when anything does not load.
package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	_ "github.com/prometheus/prometheus/discovery/dns" // dns_sd_configs
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

var logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ok := true
	switch os.Args[1] {
	case "config":
		if len(os.Args) != 3 {
			usage()
		}
		ok = checkConfig(os.Args[2])
	case "rules":
		if len(os.Args) < 3 {
			usage()
		}
		for _, file := range os.Args[2:] {
			ok = checkRules(file) && ok
		}
	case "exprs":
		ok = checkExprs()
	default:
		usage()
	}
	if !ok {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: prometheus-rules config FILE | rules FILE... | exprs < expressions")
	os.Exit(2)
}

func checkConfig(file string) bool {
	cfg, err := config.LoadFile(file, false, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
		return false
	}
	for _, rules := range cfg.RuleFiles {
		fmt.Printf("rule_file %s\n", rules)
	}
	for _, job := range cfg.ScrapeConfigs {
		fmt.Printf("job %s %s\n", job.JobName, job.MetricsPath)
	}
	return true
}

func checkRules(file string) bool {
	groups, errs := rulefmt.ParseFile(file, false, model.LegacyValidation, parser.NewParser(parser.Options{}), logger)
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
		}
		return false
	}
	for _, group := range groups.Groups {
		fmt.Printf("group %s\n", group.Name)
		for _, rule := range group.Rules {
			if rule.Alert != "" {
				fmt.Printf("alert %s for=%s severity=%s\n", rule.Alert, rule.For.String(), rule.Labels["severity"])
			} else {
				fmt.Printf("record %s\n", rule.Record)
			}
		}
	}
	return true
}

func checkExprs() bool {
	p := parser.NewParser(parser.Options{})
	ok := true
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; scanner.Scan(); line++ {
		expr := scanner.Text()
		if expr == "" {
			continue
		}
		if _, err := p.ParseExpr(expr); err != nil {
			fmt.Fprintf(os.Stderr, "line %d: %s: %v\n", line, expr, err)
			ok = false
			continue
		}
		fmt.Println("ok")
	}
	return ok
}
