package sqlite

import (
	"database/sql/driver"
	"fmt"

	"modernc.org/sqlite"

	"github.com/liaison-ent/liaison/internal/frenchid"
)

// liaison_class(x) is frenchid.NormalizeClass in SQL, for migration 10
// (SQLite's own upper() only knows ASCII letters).
func init() {
	err := sqlite.RegisterDeterministicScalarFunction("liaison_class", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return frenchid.NormalizeClass(v), nil
		case []byte:
			return frenchid.NormalizeClass(string(v)), nil
		case nil:
			return nil, nil
		default:
			return nil, fmt.Errorf("liaison_class: not a text value (%T)", v)
		}
	})
	if err != nil {
		panic(fmt.Sprintf("store: unable to register liaison_class: %v", err))
	}
}
