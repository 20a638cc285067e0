package auditlog

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// integrityOperations are the operations of docs/INTEGRITY.md (with the sequencer run, legal
// holds and erasures that come with the integrity log) that this SDK implements ahead of the
// checked-in document listing them.
var integrityOperations = map[string]bool{
	"getLatestCheckpoint": true, "getCheckpoint": true, "getPublicKey": true,
	"getEventProof": true, "getConsistencyProof": true, "runIntegrity": true,
	"placeLegalHold": true, "listLegalHolds": true, "releaseLegalHold": true,
	"eraseSubject": true, "listErasures": true,
}

var operationTag = regexp.MustCompile(`(?m)^\s*OpenAPI: (\w+)\s*$`)

// clientMethods maps every exported method of *Client to the operations its doc comment names.
func clientMethods(t *testing.T) map[string][]string {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string][]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() {
				continue
			}
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok || star.X.(*ast.Ident).Name != "Client" {
				continue
			}
			var ops []string
			for _, m := range operationTag.FindAllStringSubmatch(fn.Doc.Text(), -1) {
				ops = append(ops, m[1])
			}
			methods[fn.Name.Name] = ops
		}
	}
	return methods
}

func TestEveryOperationHasAMethodAndEveryMethodAnOperation(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "openapi", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, item := range doc.Paths {
		for _, op := range item {
			if op.OperationID != "" {
				documented[op.OperationID] = true
			}
		}
	}
	covered := map[string]bool{}
	for method, ops := range clientMethods(t) {
		switch method {
		case "String", "GoString", "Format":
			continue
		}
		if len(ops) == 0 {
			t.Errorf("Client.%s names no operation (a comment line \"OpenAPI: <operationId>\")", method)
		}
		for _, op := range ops {
			if !documented[op] && !integrityOperations[op] {
				t.Errorf("Client.%s names %q, which the document does not have", method, op)
			}
			covered[op] = true
		}
	}
	var missing []string
	for op := range documented {
		if !covered[op] {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations without a method: %v", missing)
	}
	for op := range integrityOperations {
		if !covered[op] {
			t.Errorf("integrity operation %s has no method", op)
		}
	}
}
