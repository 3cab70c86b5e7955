module github.com/netutil-fs/netutil-fs/e2e/pause

go 1.22
