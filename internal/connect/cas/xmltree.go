package cas

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// casNS is the namespace of every element of a CAS validation answer.
const casNS = "http://www.yale.edu/tp/cas"

// Limits of a document read by parseTree: a CAS answer for one user is a
// few kilobytes; these stop a hostile or broken server from making the
// reader work unboundedly.
const (
	maxDepth    = 32
	maxElements = 5000
)

// node is one element of a parsed document: its name, attributes, child
// elements and the text directly inside it (trimmed).
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*node
	text     string
}

// child returns the first child element named local in namespace ns.
func (n *node) child(ns, local string) *node {
	for _, c := range n.children {
		if c.name.Space == ns && c.name.Local == local {
			return c
		}
	}
	return nil
}

// all returns the child elements named local in namespace ns.
func (n *node) all(ns, local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name.Space == ns && c.name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// attr returns the value of the unqualified attribute local.
func (n *node) attr(local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// errSyntax is the cause of a document that is not well-formed XML or
// breaks a limit. Its messages never quote the document: a validation
// answer carries personal data.
var errSyntax = errors.New("not well-formed XML")

// parseTree reads one XML document strictly: well-formed, no DTD, one root
// element and nothing but whitespace, comments and processing
// instructions around it, at most maxDepth levels and maxElements
// elements.
func parseTree(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var (
		root  *node
		stack []*node
		text  []*strings.Builder
		count int
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := d.InputPos()
			return nil, fmt.Errorf("%w (line %d)", errSyntax, line)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%w: content after the root element", errSyntax)
			}
			count++
			if count > maxElements || len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: too many or too deeply nested elements", errSyntax)
			}
			n := &node{name: t.Name, attrs: append([]xml.Attr(nil), t.Attr...)}
			if len(stack) == 0 {
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
			text = append(text, &strings.Builder{})
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.text = strings.TrimSpace(text[len(text)-1].String())
			stack, text = stack[:len(stack)-1], text[:len(text)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: text outside the root element", errSyntax)
				}
				continue
			}
			text[len(text)-1].Write(t)
		case xml.Directive:
			return nil, fmt.Errorf("%w: a DTD or directive is not accepted", errSyntax)
		case xml.Comment, xml.ProcInst:
		}
	}
	if root == nil || len(stack) != 0 {
		return nil, fmt.Errorf("%w: no complete root element", errSyntax)
	}
	return root, nil
}
