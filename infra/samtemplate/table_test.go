package samtemplate_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// gsi is an index as both sides declare it, in a form that compares.
type gsi struct {
	Name       string
	Keys       []string // attribute:HASH|RANGE in order
	Projection string
	NonKey     []string
}

// TestTableIndexesMatchTheStore keeps template.yaml's table and store.CreateTable (the
// tests' and the local stack's table) in agreement: the same indexes, keys and
// projections, so that what passes locally is what runs on AWS.
func TestTableIndexesMatchTheStore(t *testing.T) {
	t.Parallel()
	tpl := load(t)
	table := tpl.Resources["Table"]
	if table == nil {
		t.Fatal("template.yaml has no Table resource")
	}
	var declared []struct {
		IndexName string `yaml:"IndexName"`
		KeySchema []struct {
			AttributeName string `yaml:"AttributeName"`
			KeyType       string `yaml:"KeyType"`
		} `yaml:"KeySchema"`
		Projection struct {
			ProjectionType   string   `yaml:"ProjectionType"`
			NonKeyAttributes []string `yaml:"NonKeyAttributes"`
		} `yaml:"Projection"`
	}
	node := samtemplate.Get(table, "Properties", "GlobalSecondaryIndexes")
	if node == nil {
		t.Fatal("Table has no GlobalSecondaryIndexes")
	}
	if err := node.Decode(&declared); err != nil {
		t.Fatal(err)
	}
	inTemplate := map[string]gsi{}
	for _, d := range declared {
		g := gsi{Name: d.IndexName, Projection: d.Projection.ProjectionType, NonKey: d.Projection.NonKeyAttributes}
		for _, k := range d.KeySchema {
			g.Keys = append(g.Keys, k.AttributeName+":"+k.KeyType)
		}
		inTemplate[g.Name] = g
	}
	inStore := map[string]gsi{}
	for _, d := range store.Indexes() {
		g := gsi{Name: aws.ToString(d.IndexName), Projection: string(d.Projection.ProjectionType), NonKey: d.Projection.NonKeyAttributes}
		for _, k := range d.KeySchema {
			g.Keys = append(g.Keys, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		inStore[g.Name] = g
	}
	if !reflect.DeepEqual(inTemplate, inStore) {
		t.Fatalf("template.yaml's indexes differ from store.Indexes():\ntemplate: %+v\nstore:    %+v", inTemplate, inStore)
	}
	if g := inStore[store.IndexBySlot]; g.Projection == "ALL" {
		t.Errorf("by-slot projects every attribute: every refresh would write an index copy")
	}
}
