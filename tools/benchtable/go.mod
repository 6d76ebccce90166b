module github.com/nocontact/backend/tools/benchtable

go 1.26.0
