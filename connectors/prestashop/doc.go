// Package prestashop is synk's connector for PrestaShop 8.x and 1.7 shops
// (type "prestashop"): a plain webservice client for /api with its XML and
// JSON codecs, the field facts of each resource, and the pipeline adapter
// that reads, writes and checks a shop, including the settings the
// flagship pipeline's vars name. Its emulator is prestashoptest.
package prestashop
