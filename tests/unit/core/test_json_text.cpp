// Unit tests for json_text: Python-identical JSON output and the strict parser.
//
// Every expected string below was produced by CPython 3.11 (json.dumps / repr) and pasted
// in as a literal; the generating one-liners are quoted above each table.

#include "statestore/error.hpp"
#include "statestore/json_text.hpp"

#include <boost/json.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "support/error_matchers.hpp"

#include <bit>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>

using namespace std::string_view_literals;
namespace bdata = boost::unit_test::data;
namespace json = boost::json;
using statestore::json_style;

namespace {

using statestore::test::is_error;

struct float_case {
    std::uint64_t bits;
    std::string_view repr;
};
std::ostream& operator<<(std::ostream& os, const float_case& c)
{
    return os << std::hex << c.bits << std::dec << " -> " << c.repr;
}

// python3: for d in values: print(hex(struct.unpack('<Q', struct.pack('<d', d))[0]), repr(d))
const float_case named_floats[] = {
    {0x3ff0000000000000ULL, "1.0"},
    {0x3fb999999999999aULL, "0.1"},
    {0x0000000000000000ULL, "0.0"},
    {0x8000000000000000ULL, "-0.0"},
    {0x3ee4f8b588e368f1ULL, "1e-05"},
    {0x3e7ad7f29abcaf48ULL, "1e-07"},
    {0x4341c37937e08000ULL, "1e+16"},
    {0x430c6bf526340000ULL, "1000000000000000.0"},
    {0x7e41eb2d66005835ULL, "1.5e+300"},
    {0x405edd2f1a9fbe77ULL, "123.456"},
    {0x3f1a36e2eb1c432dULL, "0.0001"},
    {0x3f50624dd2f1a9fcULL, "0.001"},
    {0x0000000000000001ULL, "5e-324"},
    {0x7fefffffffffffffULL, "1.7976931348623157e+308"},
    {0x0010000000000000ULL, "2.2250738585072014e-308"},
    {0x4341c37937e07fffULL, "9999999999999998.0"},
    {0x4376345785d8a000ULL, "1e+17"},
    {0x4345ee2a2eb5a5c4ULL, "1.2345678901234568e+16"},
    {0x4004000000000000ULL, "2.5"},
    {0x4480f0cf064dd592ULL, "1e+22"},
    {0x3ee9e409302678baULL, "1.2345678901234568e-05"},
    {0x4059000000000000ULL, "100.0"},
    {0xbff8000000000000ULL, "-1.5"},
    {0x3fe0000000000000ULL, "0.5"},
    {0x41d9d1195187ae14ULL, "1732535622.12"},
    {0x41d9d119519592fbULL, "1732535622.337096"},
    {0x419d6f34547df3b6ULL, "123456789.123"},
    {0x3fd3333333333334ULL, "0.30000000000000004"},
    {0x3fd5555555555555ULL, "0.3333333333333333"},
    {0xbefa36e2eb1c432dULL, "-2.5e-05"},
    {0x3f33a92a30553261ULL, "0.0003"},
    {0x1cd2f53da5425e06ULL, "7.849e-170"},
    {0x4011666666666666ULL, "4.35"},
    {0x54b249ad2594c37dULL, "1e+100"},
    {0x3f1f75104d551d69ULL, "0.00012"},
};

// The same for 200 doubles from random.seed(20241125): 100 random finite bit patterns,
// 50 uniform in [-1e9, 1e9], 50 rounded decimals scaled by 10**randint(-8, 20).
const float_case random_floats[] = {
    {0x84cbb91f4dd426d7ULL, "-1.4565199793500389e-285"},
    {0xd437e6e6e0e47750ULL, "-5.105427760328419e+97"},
    {0x293e489b4d533b57ULL, "5.0369701790282837e-110"},
    {0x323588b2ed9edd01ULL, "7.987397190952261e-67"},
    {0x848d1ec7c7f69dcbULL, "-9.562006398957432e-287"},
    {0x49d6d919f85834a3ULL, "5.217572839225051e+47"},
    {0x23837d9a7182b68fULL, "1.309356904632415e-137"},
    {0xb56f355d54377bf0ULL, "-2.6066518150458212e-51"},
    {0x8d6646b392fd1ac9ULL, "-4.0780654967253656e-244"},
    {0x1c2ad8c6e35dd050ULL, "5.4273119342449395e-173"},
    {0xebd6d58e986de662ULL, "-3.0027758115880987e+211"},
    {0x1c65a82e3ad2308eULL, "7.00502818297003e-172"},
    {0x2989b2f8e7f9b201ULL, "1.3678222557574558e-108"},
    {0xcbf346927799a77aULL, "-7.56220979672993e+57"},
    {0xf3362908267f09e4ULL, "-9.683931691522724e+246"},
    {0xd799bd1e7c91cb34ULL, "-9.903889127547568e+113"},
    {0xcfe389a1435adfd4ULL, "-7.069692134404115e+76"},
    {0xb750f3733295ed38ULL, "-3.0404323039391216e-42"},
    {0x601331981be0e0baULL, "6.433645209895324e+154"},
    {0x34e0cabf3dec7334ULL, "5.478639308196385e-54"},
    {0x2cd449d98e2ac73bULL, "9.726369567235788e-93"},
    {0x42438948da919af7ULL, "167815263523.21066"},
    {0xe06e775b8056a4ddULL, "-3.2678839487098548e+156"},
    {0x518eb64767fcc095ULL, "7.457912451282609e+84"},
    {0x8fceb19ae673cfefULL, "-1.5445557643461392e-232"},
    {0xc76d0a7a1435a00bULL, "-1.2063128406712184e+36"},
    {0x3f724f831fe5d1a2ULL, "0.004470359998198255"},
    {0x4b1d7ae36141893cULL, "7.059065257654561e+53"},
    {0xecfd291f25bc6e75ULL, "-1.0052493952886101e+217"},
    {0xa15313715301bb62ULL, "-3.729651650075599e-148"},
    {0xc20737874e518eb5ULL, "-12464482762.194681"},
    {0x248424b81a72b30eULL, "8.868403301163212e-133"},
    {0x98b51920700e1556ULL, "-1.1838240017770818e-189"},
    {0xc279893e8697390aULL, "-1754828138867.565"},
    {0xc39a708d878a8e14ULL, "-4.7629456391559706e+17"},
    {0x3b395abf39f380a2ULL, "2.0972734614066566e-23"},
    {0x85940f6bc5a2d235ULL, "-8.633763602751035e-282"},
    {0x0e928f5c74f21777ULL, "1.7814002981233985e-238"},
    {0x93369eadefa73104ULL, "-4.10102748976127e-216"},
    {0x19ffd529a70c798bULL, "1.8729046904796923e-183"},
    {0x42d4d685a8dea6a2ULL, "91646391974554.53"},
    {0xb21af853a21e5f5aULL, "-2.5009346713005486e-67"},
    {0x91603d8cb84504a2ULL, "-5.484420310881534e-225"},
    {0x4db665028309240bULL, "2.358423443181166e+66"},
    {0xa27cd7d83a4deb82ULL, "-1.4783070530509943e-142"},
    {0x522bf9b63250195cULL, "6.956417272403796e+87"},
    {0x8101d1b242dbbec8ULL, "-8.120089008231839e-304"},
    {0xec55da2b9f104f09ULL, "-7.356524134673107e+213"},
    {0x16625041ab06f2f7ULL, "7.476602667983914e-201"},
    {0x9ad7e64e10fc41d9ULL, "-2.3038475987113316e-179"},
    {0x6b55fdad216a09afULL, "1.1296410512148069e+209"},
    {0xe45765bff4802732ULL, "-2.3147612950394017e+175"},
    {0xbff1922c40e7db9dULL, "-1.098186734712477"},
    {0x0157b2c58832f24aULL, "3.4557478179307424e-302"},
    {0xe9fe899b2797de29ULL, "-3.7399941327927564e+202"},
    {0x2b6e837d81f270afULL, "1.7438349372993476e-99"},
    {0x38f2d5b123ffac49ULL, "2.2671486620602667e-34"},
    {0x2bf7d3b600e8f545ULL, "6.971892707899904e-97"},
    {0x78908bf42abdf693ULL, "5.594578036584768e+272"},
    {0x666d25b5ab5de635ULL, "2.4769984277568354e+185"},
    {0x8f6bbce1e9e8490dULL, "-2.180950184795015e-234"},
    {0x3694e59dde8fe06aULL, "9.150890667229653e-46"},
    {0xcfdc69bc3c9f97b1ULL, "-5.140631145940097e+76"},
    {0x77905a3c376c7ec2ULL, "8.436451618741712e+267"},
    {0x9b112c27dde7a0d1ULL, "-2.6485957558016933e-178"},
    {0x20e622ced48dbb6eULL, "3.3811987525005883e-150"},
    {0x603eaa77c2cd2b1aULL, "4.111623618734057e+155"},
    {0x7fe298eea33a46a8ULL, "1.04476258449907e+308"},
    {0xc5e95f4f3b7c2074ULL, "-6.281877890121072e+28"},
    {0xd2b02b93d9f8f74aULL, "-2.0587081019227345e+90"},
    {0x88e2ff31e717e822ULL, "-7.364369147643312e-266"},
    {0x06ea351cd819f3a2ULL, "2.3654789967464207e-275"},
    {0x7037239cfd8af502ULL, "3.5923893487201033e+232"},
    {0xe3d63f1c54362b8cULL, "-8.597253454366535e+172"},
    {0x6ea76f5e0a73aa1bULL, "1.0843070164029146e+225"},
    {0x92057ad880f7c46fULL, "-7.427878201330027e-222"},
    {0x883d906bc01385ebULL, "-5.596148056939669e-269"},
    {0x474c9b7336cd44e7ULL, "2.9707442745315206e+35"},
    {0x373958091bb1a484ULL, "1.1364592866366416e-42"},
    {0xe724962566b5d5d4ULL, "-7.165887540736731e+188"},
    {0xa65a0ded7a87bad6ULL, "-6.158329938305197e-124"},
    {0x2ece242be1becea8ULL, "3.1030809937835005e-83"},
    {0xa6cbf6b2c2946f62ULL, "-8.460301845088475e-122"},
    {0x2b7dfd8050aa1a29ULL, "3.427846524768187e-99"},
    {0x97ee80312bfb5730ULL, "-2.0891196770030261e-193"},
    {0xb0379113db5d447dULL, "-2.0352607330389298e-76"},
    {0xcad8376c8d634c59ULL, "-3.624187349549074e+52"},
    {0x6b035fec587e9d4aULL, "3.1101548941648746e+207"},
    {0x9e9927ac57b34983ULL, "-2.795671870794374e-161"},
    {0xd0ceda93136dcd6fULL, "-1.8291848902259762e+81"},
    {0xc0a4df7b31536054ULL, "-2671.740610700139"},
    {0x6316dc7c506d5e32ULL, "2.1569395268158943e+169"},
    {0x77b1f1ededaf3fb9ULL, "3.703228428169012e+268"},
    {0xd09cea8092f43e7dULL, "-2.1428780005615385e+80"},
    {0x11bdab51317e9a5dULL, "3.2061894026425936e-223"},
    {0x5d3fd57b1cd3e0e9ULL, "1.5163797266678854e+141"},
    {0x0d4d3b0844539a56ULL, "1.3377999886824499e-244"},
    {0x404417fdf1af55e4ULL, "40.187437258351366"},
    {0x335199fd97b9aefdULL, "1.711477558792918e-61"},
    {0xb9a314be01a306d2ULL, "-4.70383564880988e-31"},
    {0x41c985d9ce471e12ULL, "856404892.5556052"},
    {0xc1bc6ca6fcf3aa63ULL, "-476882684.95181865"},
    {0xc19ee7b3fe0f2470ULL, "-129625343.51478744"},
    {0xc1c8a784147202daULL, "-827263016.890712"},
    {0x419b36200cd1a9e0ULL, "114132995.20474958"},
    {0x41c391fbcee32db0ULL, "656668573.7748318"},
    {0x41c89e3351118a28ULL, "826042018.1370287"},
    {0xc196c4123dac7bc0ULL, "-95487119.41844082"},
    {0xc1965b201e3675d8ULL, "-93767687.55318391"},
    {0xc1b00d3bcb0666b2ULL, "-269302731.0250045"},
    {0xc1a6c44b67b72a08ULL, "-190981555.85774255"},
    {0xc1ccbe318865d373ULL, "-964453136.7955154"},
    {0x4138e28886bcd000ULL, "1630856.52631855"},
    {0x41be6941ce4f1348ULL, "510214606.30888796"},
    {0x41b99eb04a73a228ULL, "429830218.45169306"},
    {0xc1cbd91e0a07c479ULL, "-934427668.0606834"},
    {0x41c7f5f8cf7c6df2ULL, "803991966.9721053"},
    {0x41bcd26c27c852e4ULL, "483552295.7825148"},
    {0x41b5ba88ff192f98ULL, "364546303.0983825"},
    {0x41b3023d7fa55100ULL, "318913919.6457672"},
    {0xc1a77b4c1fe38eecULL, "-196978191.94444978"},
    {0xc1bf04bfcaf539e8ULL, "-520404938.9579148"},
    {0xc1b7d57877d9035eULL, "-399865975.8477076"},
    {0x4175482b90d87c00ULL, "22315705.05285263"},
    {0x41c476fa64d9a1caULL, "686683337.7002499"},
    {0xc1b948fd30b2db6cULL, "-424213808.6986606"},
    {0xc1c7806410334dbaULL, "-788580384.4008095"},
    {0xc19695e04a77efc0ULL, "-94730258.61712551"},
    {0x41ba81e9a486db40ULL, "444721572.526783"},
    {0xc1b01c9fbc7c727cULL, "-270311356.4861219"},
    {0x41b87447a4d3eb28ULL, "410273700.82780695"},
    {0xc1c60b3614e2a15cULL, "-739666985.7705493"},
    {0xc1ad3aa13b3b8a70ULL, "-245190813.61629057"},
    {0x41c5063560c64f04ULL, "705456833.5492864"},
    {0xc1c3ca016f820b82ULL, "-664011487.0159762"},
    {0x41c39616a18f4414ULL, "657206595.1192651"},
    {0xc1c08315d0a2fcc5ULL, "-554052513.2733389"},
    {0x41af1e00c312e520ULL, "261029985.53690434"},
    {0xc17186c10f5effa0ULL, "-18377744.960693"},
    {0xc1cdb8545871f018ULL, "-997238960.8901396"},
    {0xc1b42889af3fb014ULL, "-338201007.2487805"},
    {0xc1cdc698b11de5c7ULL, "-999108962.2335747"},
    {0xc1cd3ac29b33b674ULL, "-980780342.4040055"},
    {0x41aa82ebcb14d048ULL, "222393829.54065156"},
    {0xc1700a55c478e180ULL, "-16819548.27951193"},
    {0xc1ae93d35769e478ULL, "-256502187.7068212"},
    {0xc1a06d4ff96f9370ULL, "-137799676.71792173"},
    {0x41bab5a87c92c860ULL, "448112764.57337"},
    {0x41b83a4608dc464cULL, "406472200.86044765"},
    {0x41a4cf67cd782a50ULL, "174568422.73469782"},
    {0x447d9cbdd8d7ed21ULL, "8.74e+21"},
    {0x42204c533c000000ULL, "35000000000.0"},
    {0xc0b115410624dd2fULL, "-4373.254"},
    {0xc3399b8bff139800ULL, "-7207900000000000.0"},
    {0x42221e3f4be00000ULL, "38908438000.0"},
    {0x408e980000000000ULL, "979.0"},
    {0x3f15021ab7665e2dULL, "8.013999999999999e-05"},
    {0xbfe60b8cfbfc6541ULL, "-0.68891"},
    {0xc3ab33519d8fc400ULL, "-9.8e+17"},
    {0x3fd490752da98677ULL, "0.321317"},
    {0x407cba74a66559f7ULL, "459.653479"},
    {0xc263c7c97f900000ULL, "-679650000000.0"},
    {0x42a06a8318850000ULL, "9024826000000.0"},
    {0x44390bad3f2a8639ULL, "4.6201e+20"},
    {0xc193f5ae20000000ULL, "-83717000.0"},
    {0xbf4fe489d7c90555ULL, "-0.0009732888279999999"},
    {0xc3a7f6098b0f0120ULL, "-8.63289e+17"},
    {0xbf238474cce42765ULL, "-0.000148906"},
    {0xc2217eee72000000ULL, "-37572000000.0"},
    {0x41046ba800000000ULL, "167285.0"},
    {0xbf065949a9fce077ULL, "-4.26269155e-05"},
    {0xc0b0e30000000000ULL, "-4323.0"},
    {0xc053300000000000ULL, "-76.75"},
    {0x407461999999999aULL, "326.1"},
    {0x3f672b6056b0ff7bULL, "0.0028283006300000003"},
    {0xc00044ebba4dc42eULL, "-2.03365274"},
    {0x436c454dd8ccd800ULL, "6.366e+16"},
    {0xc1cdcd6500000000ULL, "-1000000000.0"},
    {0x418d10ac80000000ULL, "60954000.0"},
    {0x436c6bf526340000ULL, "6.4e+16"},
    {0xc2984d3c1bc00000ULL, "-6680000000000.0"},
    {0x401999999999999aULL, "6.4"},
    {0x40a9c56b851eb852ULL, "3298.71"},
    {0xc2fd21e6742e6000ULL, "-512503000000000.0"},
    {0x43612fa748698540ULL, "3.8699761e+16"},
    {0x423c67c444000000ULL, "122000000000.0"},
    {0x43da31bf3fe58cc0ULL, "7.55e+18"},
    {0xc12737c000000000ULL, "-760800.0"},
    {0xc33f42153f31b900ULL, "-8798383300000000.0"},
    {0xbfe083529ad7873bULL, "-0.5160306"},
    {0x430c96bd80b18000ULL, "1005880000000000.0"},
    {0x40506ccccccccccdULL, "65.7"},
    {0x4305d3ef79800000ULL, "768000000000000.0"},
    {0xc3c47e74e3e6a3e4ULL, "-2.9534925e+18"},
    {0xc3e926d975cacc70ULL, "-1.4499e+19"},
    {0xc04d01d14e3bcd37ULL, "-58.01420000000001"},
    {0x440556d8ca9ba6dbULL, "4.920495e+19"},
    {0xbfb5bbf5392793eeULL, "-0.08489926"},
    {0xbfa3b562cdd58b62ULL, "-0.03849324"},
    {0x4374c5239b0c1280ULL, "9.35401e+16"},
};

struct string_case {
    std::string_view utf8;
    std::string_view python;
};
std::ostream& operator<<(std::ostream& os, const string_case& c) { return os << c.python; }

// python3: json.dumps(s) for each string s (the input is shown as UTF-8 bytes). Note DEL:
// Python escapes it (only ' '..'~' pass through unescaped).
const string_case strings[] = {
    {""sv, R"~("")~"sv},
    {"plain ascii"sv, R"~("plain ascii")~"sv},
    {R"~(quote " backslash \ slash /)~"sv, R"~("quote \" backslash \\ slash /")~"sv},
    {"\n\015\011\010\014"sv, R"~("\n\r\t\b\f")~"sv},
    {"\000\001\037"sv, R"~("\u0000\u0001\u001f")~"sv},
    {"\177"sv, R"~("\u007f")~"sv},
    {"\302\200\302\237\302\240\303\277"sv, R"~("\u0080\u009f\u00a0\u00ff")~"sv},
    {"\303\251tat \303\251t\303\251"sv, R"~("\u00e9tat \u00e9t\u00e9")~"sv},
    {"\346\227\245\346\234\254"sv, R"~("\u65e5\u672c")~"sv},
    {"\342\200\250\342\200\251"sv, R"~("\u2028\u2029")~"sv},
    {"\357\273\277"sv, R"~("\ufeff")~"sv},
    {"\360\237\230\200"sv, R"~("\ud83d\ude00")~"sv},
    {"\364\217\277\277"sv, R"~("\udbff\udfff")~"sv},
    {"\360\220\200\200"sv, R"~("\ud800\udc00")~"sv},
    {"a\033b"sv, R"~("a\u001bb")~"sv},
    {"~ {}[]:,"sv, R"~("~ {}[]:,")~"sv},
    {"\303\251\314\201"sv, R"~("\u00e9\u0301")~"sv},
    {"tab\011here"sv, R"~("tab\there")~"sv},
};

struct style_case {
    std::string_view input;
    std::string_view python_default;
    std::string_view compact;
    std::string_view pretty;
};
std::ostream& operator<<(std::ostream& os, const style_case& c) { return os << c.input; }

// python3: v = json.loads(t); json.dumps(v), json.dumps(v, separators=(",", ":")),
// json.dumps(v, indent=2)
const style_case styles[] = {
    {R"~({"singer_state": {"bookmarks": {"users": {"replication_key": "updated_at", "repl)~"
     R"~(ication_key_value": "2024-01-01T00:00:00Z"}}, "currently_syncing": null}})~"sv,
     R"~({"singer_state": {"bookmarks": {"users": {"replication_key": "updated_at", "repl)~"
     R"~(ication_key_value": "2024-01-01T00:00:00Z"}}, "currently_syncing": null}})~"sv,
     R"~({"singer_state":{"bookmarks":{"users":{"replication_key":"updated_at","replicati)~"
     R"~(on_key_value":"2024-01-01T00:00:00Z"}},"currently_syncing":null}})~"sv,
     "{\n  \"singer_state\": {\n    \"bookmarks\": {\n      \"users\": {\n        \"replic"
     "ation_key\": \"updated_at\",\n        \"replication_key_value\": \"2024-01-01T00:00:"
     "00Z\"\n      }\n    },\n    \"currently_syncing\": null\n  }\n}"sv},
    {"[]"sv,
     "[]"sv,
     "[]"sv,
     "[]"sv},
    {"{}"sv,
     "{}"sv,
     "{}"sv,
     "{}"sv},
    {"[1, [], {}, [2, {\"a\": [3]}], \"\303\251\"]"sv,
     R"~([1, [], {}, [2, {"a": [3]}], "\u00e9"])~"sv,
     R"~([1,[],{},[2,{"a":[3]}],"\u00e9"])~"sv,
     "[\n  1,\n  [],\n  {},\n  [\n    2,\n    {\n      \"a\": [\n        3\n      ]\n    }"
     "\n  ],\n  \"\\u00e9\"\n]"sv},
    {R"~({"a": {"b": {"c": {}}}, "d": [[], [[]]], "e": 1.5})~"sv,
     R"~({"a": {"b": {"c": {}}}, "d": [[], [[]]], "e": 1.5})~"sv,
     R"~({"a":{"b":{"c":{}}},"d":[[],[[]]],"e":1.5})~"sv,
     "{\n  \"a\": {\n    \"b\": {\n      \"c\": {}\n    }\n  },\n  \"d\": [\n    [],\n    "
     "[\n      []\n    ]\n  ],\n  \"e\": 1.5\n}"sv},
    {R"~("x")~"sv,
     R"~("x")~"sv,
     R"~("x")~"sv,
     R"~("x")~"sv},
    {"0"sv,
     "0"sv,
     "0"sv,
     "0"sv},
};

struct parse_case {
    std::string_view input;
    std::string_view python;
};
std::ostream& operator<<(std::ostream& os, const parse_case& c) { return os << c.input; }

// python3: json.dumps(json.loads(t)). Covers duplicate keys (last value, first position),
// -0 versus -0.0, exponents, 64-bit limits, numbers Boost 1.81 alone rounds wrongly
// (7.849e-170 and the next two), underflow to signed zero, escapes and whitespace.
const parse_case round_trips[] = {
    {R"~({"a":1,"b":2,"a":3})~"sv,
     R"~({"a": 3, "b": 2})~"sv},
    {R"~({"a":1,"b":{"x":1},"c":2,"b":{"y":2},"a":null})~"sv,
     R"~({"a": null, "b": {"y": 2}, "c": 2})~"sv},
    {"[1, 1.0, -0, -0.0, 1E2, 1e-7, 1.5e300, 0.1, 100000000000000000000.0]"sv,
     "[1, 1.0, 0, -0.0, 100.0, 1e-07, 1.5e+300, 0.1, 1e+20]"sv},
    {"[9223372036854775807, -9223372036854775808, 18446744073709551615]"sv,
     "[9223372036854775807, -9223372036854775808, 18446744073709551615]"sv},
    {"[7.849e-170, 4387610652.2784280e-181, 577017450424344.936075e207]"sv,
     "[7.849e-170, 4.387610652278428e-172, 5.770174504243449e+221]"sv},
    {"[1e-400, -1e-400, 2.2250738585072011e-308, 5e-324]"sv,
     "[0.0, -0.0, 2.225073858507201e-308, 5e-324]"sv},
    {R"~("\u00e9\ud83d\ude00\u0000\/\"")~"sv,
     R"~("\u00e9\ud83d\ude00\u0000/\"")~"sv},
    {"\"\303\251t\303\251 \346\227\245\346\234\254 \360\237\230\200\""sv,
     R"~("\u00e9t\u00e9 \u65e5\u672c \ud83d\ude00")~"sv},
    {" \n\011 {\"completed\" : {\"singer_state\" : {\"bookmark-1\" : 0}} , \"partial\" : {"
     "}} \015\n"sv,
     R"~({"completed": {"singer_state": {"bookmark-1": 0}}, "partial": {}})~"sv},
    {R"~({"":"", " ":[], "x":{}})~"sv,
     R"~({"": "", " ": [], "x": {}})~"sv},
    {R"~([true, false, null, [], {}, [[]], {"a": {"b": {}}}])~"sv,
     R"~([true, false, null, [], {}, [[]], {"a": {"b": {}}}])~"sv},
    {"12345"sv,
     "12345"sv},
    {R"~("just a string")~"sv,
     R"~("just a string")~"sv},
    {"null"sv,
     "null"sv},
};

struct error_case {
    std::string_view input;
    std::string_view message;
};
std::ostream& operator<<(std::ostream& os, const error_case& c) { return os << c.message; }

// Our own messages (Python's differ); line and column are 1-based, columns count code
// points as Python's JSONDecodeError does.
const error_case parse_errors[] = {
    {""sv, "invalid JSON: empty input"sv},
    {" \n\t\r "sv, "invalid JSON: empty input"sv},
    {R"~({"a":1,})~"sv, "invalid JSON at line 1, column 8: unexpected character '}'"sv},
    {"[1,2"sv, "invalid JSON at line 1, column 5: unexpected end of input"sv},
    {R"~({"a" 1})~"sv, "invalid JSON at line 1, column 6: unexpected character '1'"sv},
    {"1 2"sv, "invalid JSON at line 1, column 3: unexpected data after the JSON value"sv},
    {"{} x"sv, "invalid JSON at line 1, column 4: unexpected data after the JSON value"sv},
    {"[1]\n\n  ]"sv, "invalid JSON at line 3, column 3: unexpected data after the JSON value"sv},
    {"{\"a\":1}\f"sv, "invalid JSON at line 1, column 8: unexpected data after the JSON value"sv},
    {"'a'"sv, "invalid JSON at line 1, column 1: unexpected character '''"sv},
    {"[.5]"sv, "invalid JSON at line 1, column 2: unexpected character '.'"sv},
    {"01"sv, "invalid JSON at line 1, column 2: unexpected data after the JSON value"sv},
    {"\"abc"sv, "invalid JSON at line 1, column 5: unexpected end of input"sv},
    {"\"a\nb\""sv, "invalid JSON at line 1, column 3: unexpected control character U+000A"sv},
    {"{\"\303\251\": tru}"sv, "invalid JSON at line 1, column 7: unexpected character 't'"sv},
    {R"~("\x")~"sv, "invalid JSON at line 1, column 3: unexpected character 'x'"sv},
    {R"~("\u12g4")~"sv, "invalid JSON at line 1, column 6: invalid \\u escape"sv},
    {R"~("\ud800")~"sv,
     "invalid JSON at line 1, column 8: unpaired UTF-16 surrogate in a \\u escape"sv},
    {R"~("\udc00")~"sv,
     "invalid JSON at line 1, column 8: unpaired UTF-16 surrogate in a \\u escape"sv},
    // Invalid UTF-8: a stray byte, an encoded surrogate, an overlong '/', a code point
    // above U+10FFFF, a truncated sequence, and a bad byte after valid non-ASCII text.
    {"\"a\377\""sv, "invalid JSON at line 1, column 3: invalid UTF-8"sv},
    {"\"\355\240\200\""sv, "invalid JSON at line 1, column 2: invalid UTF-8"sv},
    {"\"\300\257\""sv, "invalid JSON at line 1, column 2: invalid UTF-8"sv},
    {"\"\364\220\200\200\""sv, "invalid JSON at line 1, column 2: invalid UTF-8"sv},
    {"\"\342\202\""sv, "invalid JSON at line 1, column 2: invalid UTF-8"sv},
    {"\"\303\251\" \377"sv, "invalid JSON at line 1, column 5: invalid UTF-8"sv},
    {"\357\273\277{}"sv, "invalid JSON at line 1, column 1: unexpected UTF-8 byte order mark"sv},
    // NaN and infinities, which Python's json.loads accepts and Meltano could have written.
    {"NaN"sv, "NaN and Infinity are not valid JSON (line 1, column 1)"sv},
    {"[NaN]"sv, "NaN and Infinity are not valid JSON (line 1, column 2)"sv},
    {"-Infinity"sv, "NaN and Infinity are not valid JSON (line 1, column 1)"sv},
    {"{\"a\":\n  Infinity}"sv, "NaN and Infinity are not valid JSON (line 2, column 3)"sv},
    {"[1,\n -Infinity]"sv, "NaN and Infinity are not valid JSON (line 2, column 2)"sv},
    // Integers beyond 64 bits (Python would keep them exact; Boost would round them).
    {"18446744073709551616"sv,
     "integer 18446744073709551616 does not fit in 64 bits (line 1, column 1)"sv},
    {"-9223372036854775809"sv,
     "integer -9223372036854775809 does not fit in 64 bits (line 1, column 1)"sv},
    {"[123456789012345678901234567890123456789012345678901234567890]"sv,
     "integer 1234567890123456789012345678901234567890 does not fit in 64 bits "
     "(line 1, column 2)"sv},
    // Doubles that overflow (Python: inf, which cannot be stored).
    {"1e400"sv, "number 1e400 is too large for a double (line 1, column 1)"sv},
    {"[-1.5e99999]"sv, "number -1.5e99999 is too large for a double (line 1, column 2)"sv},
};

double from_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }

} // namespace

BOOST_AUTO_TEST_SUITE(json_text_tests)

BOOST_DATA_TEST_CASE(python_float_repr_named_values, bdata::make(named_floats), c)
{
    BOOST_TEST(statestore::python_float_repr(from_bits(c.bits)) == c.repr);
}

BOOST_DATA_TEST_CASE(python_float_repr_random_values, bdata::make(random_floats), c)
{
    BOOST_TEST(statestore::python_float_repr(from_bits(c.bits)) == c.repr);
}

BOOST_AUTO_TEST_CASE(python_float_repr_refuses_non_finite)
{
    for (const double d : {std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()}) {
        BOOST_CHECK_EXCEPTION(statestore::python_float_repr(d), statestore::error,
                              is_error(statestore::errc::invalid_document,
                                       "NaN/Infinity cannot be stored as JSON"));
    }
}

BOOST_AUTO_TEST_CASE(doubles_inside_documents_use_python_repr)
{
    const json::value v = {{"a", 1.0}, {"b", 1e-7}, {"c", 1e16}, {"d", -0.0}, {"e", 1e15}};
    BOOST_TEST(statestore::to_python_json(v) ==
               R"({"a": 1.0, "b": 1e-07, "c": 1e+16, "d": -0.0, "e": 1000000000000000.0})");
}

BOOST_AUTO_TEST_CASE(non_finite_double_anywhere_is_refused)
{
    const json::value v = {{"ok", 1},
                           {"bad", json::array{1, std::numeric_limits<double>::infinity()}}};
    BOOST_CHECK_EXCEPTION(statestore::to_python_json(v), statestore::error,
                          is_error(statestore::errc::invalid_document,
                                   "NaN/Infinity cannot be stored as JSON"));
}

BOOST_AUTO_TEST_CASE(integers_are_exact)
{
    const json::value v = json::array{std::numeric_limits<std::int64_t>::min(),
                                      std::numeric_limits<std::int64_t>::max(),
                                      std::numeric_limits<std::uint64_t>::max(), 0, -1};
    BOOST_TEST(statestore::to_python_json(v, json_style::compact) ==
               "[-9223372036854775808,9223372036854775807,18446744073709551615,0,-1]");
}

BOOST_DATA_TEST_CASE(strings_are_escaped_like_python, bdata::make(strings), c)
{
    const json::value v = json::string(c.utf8);
    BOOST_TEST(statestore::to_python_json(v) == c.python);
    // Keys use the same escaping.
    json::object o;
    o[c.utf8] = 1;
    BOOST_TEST(statestore::to_python_json(o, json_style::compact) ==
               "{" + std::string(c.python) + ":1}");
}

BOOST_AUTO_TEST_CASE(string_that_is_not_utf8_cannot_be_written)
{
    const json::value v = {{"k", json::string("a\xff")}};
    BOOST_CHECK_EXCEPTION(statestore::to_python_json(v), statestore::error,
                          is_error(statestore::errc::invalid_document,
                                   "cannot write JSON: a string is not valid UTF-8 (\"a\\xff\")"));
}

BOOST_DATA_TEST_CASE(three_styles_match_python, bdata::make(styles), c)
{
    const json::value v = statestore::parse_json(c.input);
    BOOST_TEST(statestore::to_python_json(v) == c.python_default);
    BOOST_TEST(statestore::to_python_json(v, json_style::python_default) == c.python_default);
    BOOST_TEST(statestore::to_python_json(v, json_style::compact) == c.compact);
    BOOST_TEST(statestore::to_python_json(v, json_style::pretty) == c.pretty);
}

BOOST_AUTO_TEST_CASE(pretty_output_reads_like_python_indent_2)
{
    const json::value v = statestore::parse_json(
        R"({"singer_state": {"bookmarks": {"s": {"created_at": "2024-01-01"}}, "x": [1, {}]}})");
    // python3: print(json.dumps(v, indent=2))
    BOOST_TEST(statestore::to_python_json(v, json_style::pretty) == R"({
  "singer_state": {
    "bookmarks": {
      "s": {
        "created_at": "2024-01-01"
      }
    },
    "x": [
      1,
      {}
    ]
  }
})");
}

BOOST_DATA_TEST_CASE(parse_then_write_matches_python, bdata::make(round_trips), c)
{
    BOOST_TEST(statestore::to_python_json(statestore::parse_json(c.input)) == c.python);
}

BOOST_AUTO_TEST_CASE(parse_keeps_64_bit_kinds)
{
    const json::value v =
        statestore::parse_json("[9223372036854775807, -9223372036854775808, "
                               "18446744073709551615, -0, -0.0, 1E2]");
    const json::array& a = v.as_array();
    BOOST_TEST(a[0].as_int64() == std::numeric_limits<std::int64_t>::max());
    BOOST_TEST(a[1].as_int64() == std::numeric_limits<std::int64_t>::min());
    BOOST_TEST(a[2].as_uint64() == std::numeric_limits<std::uint64_t>::max());
    BOOST_TEST(a[3].as_int64() == 0);
    BOOST_TEST(std::bit_cast<std::uint64_t>(a[4].as_double()) == 0x8000000000000000ULL);
    BOOST_TEST(a[5].as_double() == 100.0);
}

BOOST_AUTO_TEST_CASE(parse_rounds_doubles_correctly)
{
    // Boost 1.81's own conversion gives 7.849000000000001e-170 here.
    BOOST_TEST(std::bit_cast<std::uint64_t>(statestore::parse_json("7.849e-170").as_double()) ==
               0x1cd2f53da5425e06ULL);
}

BOOST_AUTO_TEST_CASE(duplicate_keys_keep_first_position_in_large_objects)
{
    // More keys than Boost's small-object limit, so its hashed insertion path runs too.
    // python3: t = "{" + ",".join(f'"k{i % 25}": {i}' for i in range(60)) + "}"
    //          json.dumps(json.loads(t), separators=(",", ":"))
    std::string text = "{";
    for (int i = 0; i < 60; ++i) {
        text += (i ? ",\"k" : "\"k") + std::to_string(i % 25) + "\": " + std::to_string(i);
    }
    text += "}";
    BOOST_TEST(statestore::to_python_json(statestore::parse_json(text), json_style::compact) ==
               R"({"k0":50,"k1":51,"k2":52,"k3":53,"k4":54,"k5":55,"k6":56,"k7":57,"k8":58,)"
               R"("k9":59,"k10":35,"k11":36,"k12":37,"k13":38,"k14":39,"k15":40,"k16":41,)"
               R"("k17":42,"k18":43,"k19":44,"k20":45,"k21":46,"k22":47,"k23":48,"k24":49})");
}

BOOST_DATA_TEST_CASE(parse_errors_are_explicit, bdata::make(parse_errors), c)
{
    BOOST_CHECK_EXCEPTION(statestore::parse_json(c.input), statestore::error,
                          is_error(statestore::errc::invalid_document, std::string(c.message)));
}

BOOST_AUTO_TEST_CASE(nesting_up_to_1000_levels)
{
    const std::string deepest = std::string(1000, '[') + std::string(1000, ']');
    const json::value v = statestore::parse_json(deepest);
    BOOST_TEST(statestore::to_python_json(v, json_style::compact) == deepest);
    const std::string too_deep = std::string(1001, '[') + std::string(1001, ']');
    BOOST_CHECK_EXCEPTION(
        statestore::parse_json(too_deep), statestore::error,
        is_error(statestore::errc::invalid_document,
                 "invalid JSON at line 1, column 1001: nesting deeper than 1000 levels"));
}

BOOST_AUTO_TEST_SUITE_END()
