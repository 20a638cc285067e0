module github.com/auditlog/auditlog/sdk/go

go 1.19
