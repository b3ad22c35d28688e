module github.com/clearml-openshift/tools/pause

go 1.22
