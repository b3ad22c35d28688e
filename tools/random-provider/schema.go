package main

import "encoding/json"

// packageSchema is a minimal Pulumi package schema for the two resources this stand-in
// implements: the same tokens, property names, types, required lists and secret flags as
// pulumi-random's schema (provider/cmd/pulumi-resource-random/schema.json), with short
// descriptions and no language sections. Pulumi programs using the published SDK do not need it;
// `pulumi package get-schema`, import code generation and converters do.
func packageSchema(version string) (string, error) {
	type obj = map[string]any
	prop := func(typ, desc string) obj { return obj{"type": typ, "description": desc} }

	inputs := func() obj {
		return obj{
			pLength: prop("integer", "The length of the string desired. The minimum value for length is 1 and, "+
				"length must also be >= (minUpper + minLower + minNumeric + minSpecial)."),
			pKeepers: obj{
				"type":                 "object",
				"additionalProperties": obj{"type": "string"},
				"description":          "Arbitrary map of values that, when changed, will trigger recreation of resource.",
			},
			pLower:      prop("boolean", "Include lowercase alphabet characters in the result. Default value is `true`."),
			pUpper:      prop("boolean", "Include uppercase alphabet characters in the result. Default value is `true`."),
			pNumeric:    prop("boolean", "Include numeric characters in the result. Default value is `true`."),
			pSpecial:    prop("boolean", "Include special characters in the result. These are `!@#$%&*()-_=+[]{}<>:?`. Default value is `true`."),
			pMinLower:   prop("integer", "Minimum number of lowercase alphabet characters in the result. Default value is `0`."),
			pMinUpper:   prop("integer", "Minimum number of uppercase alphabet characters in the result. Default value is `0`."),
			pMinNumeric: prop("integer", "Minimum number of numeric characters in the result. Default value is `0`."),
			pMinSpecial: prop("integer", "Minimum number of special characters in the result. Default value is `0`."),
			pOverrideSpecial: prop("string", "Supply your own list of special characters to use for string generation. "+
				"The `special` argument must still be set to true for any overwritten characters to be used in generation."),
			pNumber: obj{
				"type":               "boolean",
				"description":        "Include numeric characters in the result. Default value is `true`. **NOTE**: This is deprecated, use `numeric` instead.",
				"deprecationMessage": "**NOTE**: This is deprecated, use `numeric` instead.",
			},
		}
	}
	resourceSchema := func(k kind, desc string) obj {
		properties := inputs()
		required := []string{pLength, pLower, pMinLower, pMinNumeric, pMinSpecial, pMinUpper, pNumber, pNumeric, pResult, pSpecial, pUpper}
		if k.password {
			properties[pResult] = obj{"type": "string", "secret": true, "description": "The generated random string."}
			properties[pBcryptHash] = obj{"type": "string", "secret": true, "description": "A bcrypt hash of the generated random string. " +
				"**NOTE**: If the generated random string is greater than 72 bytes in length, `bcryptHash` will contain a hash of the first 72 bytes."}
			required = append([]string{pBcryptHash}, required...)
		} else {
			properties[pResult] = prop("string", "The generated random string.")
		}
		return obj{
			"description":     desc,
			"properties":      properties,
			"required":        required,
			"inputProperties": inputs(),
			"requiredInputs":  []string{pLength},
			"stateInputs": obj{
				"description": "Input properties used for looking up and filtering " + k.token.Name().String() + " resources.",
				"type":        "object",
				"properties":  properties,
			},
		}
	}

	s := obj{
		"name":        providerName,
		"displayName": "random",
		"version":     version,
		"description": "A Pulumi package to safely use randomness in Pulumi programs (minimal stand-in: RandomPassword and RandomString only).",
		"keywords":    []string{"pulumi", "random"},
		"license":     "Apache-2.0",
		"repository":  "https://github.com/pulumi/pulumi-random",
		"meta":        obj{"moduleFormat": "(.*)(?:/[^/]*)"},
		"config":      obj{},
		"provider":    obj{"description": "The provider type for the random package."},
		"resources": obj{
			string(passwordType): resourceSchema(kinds[passwordType],
				"Identical to RandomString with the exception that the result is treated as sensitive and, thus, not displayed in console output."),
			string(stringType): resourceSchema(kinds[stringType],
				"The resource `random.RandomString` generates a random permutation of alphanumeric characters and optionally special characters."),
		},
	}
	b, err := json.MarshalIndent(s, "", "  ")
	return string(b), err
}
