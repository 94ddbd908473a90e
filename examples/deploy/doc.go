// Package deploy holds synk's deployment examples (systemd, Kubernetes,
// Prometheus alert rules, a Grafana dashboard). It has no code: its test
// checks that the files parse and that every metric they use is one synk
// exports, with the labels synk gives it.
package deploy
