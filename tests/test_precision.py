"""Precision on real traffic (issue 13 §3, §4): each false-hit class as hard negatives, with
the true hits of the same shape that must still be found.

Runs through the shared Detector (normalisation, prefilter, context) like
tests/test_recognizers.py. A row is (text, field-name context).
"""

import pytest
from detection_support import detect

THRESHOLD = 0.5  # the policies' default min_score


def values(text, entity, context=()):
    return [
        text[f.start : f.end]
        for f in detect(text, context)
        if f.entity == entity and f.score >= THRESHOLD
    ]


# --- passports: a letter and digits are any id; only a context word or field name makes a passport
PASSPORT_NEGATIVES = [
    ('{"enterprise": {"id": "E12345678"}}', ()),
    ("E12345678", ("enterprise", "id")),
    ("型号 G12345678 已停产", ()),
    ("护照号 E00000000", ()),  # placeholder: one digit repeated, even with context
    ("E00000000", ("passport_no",)),
    ("passport: G11111118", ()),  # fewer than three distinct digits
]
PASSPORT_POSITIVES = [
    ("护照号 E12345678", (), "E12345678"),
    ("passport: EA1234567", (), "EA1234567"),
    ("G38217465", ("passportNumber",), "G38217465"),
    ("出差人员张三，护照号E83726154，请订机票", (), "E83726154"),
    ("护照 P1234567", (), "P1234567"),
]


@pytest.mark.parametrize(("text", "context"), PASSPORT_NEGATIVES)
def test_passport_negatives(text, context):
    assert values(text, "CN_PASSPORT", context) == []


@pytest.mark.parametrize(("text", "context", "value"), PASSPORT_POSITIVES)
def test_passport_positives(text, context, value):
    assert values(text, "CN_PASSPORT", context) == [value]


# --- service addresses in URLs and git remotes are not customers' mailboxes
EMAIL_NEGATIVES = [
    "git clone git@github.com:org/repo.git",
    "git@host.example.com:repo.git",
    "git remote add origin ssh://git@gitlab.example.com:2222/group/repo.git",
    "https://user@github.com/org/repo",
    "https://deploy:s3cret@registry.example.com/v2/",
    "ssh -T git@github.com",
    '{"email": "noreply@github.com"}',
    '{"author": {"email": "583231+octocat@users.noreply.github.com"}}',
    "From: no-reply@accounts.example.com",
    "MAILER-DAEMON@mail.example.org",
    "deploy@build.example.com:srv/app",  # scp-like path, not git's user
    "git remote add backup deploy@build.example.com:repo.git",
    "clone https://ci-bot:tok%2Fen@git.example.com:8443/team/app",
]
EMAIL_POSITIVES = [
    ("mailto:zhang.san@example.com", "zhang.san@example.com"),
    ("https://crm.example.com/find?email=li.si@example.com.cn", "li.si@example.com.cn"),
    ("请发到 zhang.san@example.com：谢谢", "zhang.san@example.com"),
    ("zhang@example.com:13800138000", "zhang@example.com"),  # a colon, then no path
    ('{"author": {"email": "wang.wu@example.org"}}', "wang.wu@example.org"),
    ("email: support@customer-co.example.com", "support@customer-co.example.com"),
    # a mailbox after a bare URL in prose: ',', ';', CJK or a path end the URL
    ("官网http://www.example.cn，客户邮箱zhang.san@gmail.com，电话请另询", "zhang.san@gmail.com"),
    ("详见https://example.com,contact:li.na@qq.com", "li.na@qq.com"),
    ("Docs at https://example.com;owner=alice.wong@gmail.com", "alice.wong@gmail.com"),
    ("see http://shop.example.cn/help 或发邮件到chen.jie@163.com", "chen.jie@163.com"),
    ("链接https://a.example.cn/x?id=3后面写着wang.fang@126.com吧", "wang.fang@126.com"),
    # people whose local part merely starts like a machine's
    ("git.zhang@gmail.com", "git.zhang@gmail.com"),
    ("bounce-alice@qq.com", "bounce-alice@qq.com"),
    ("noreply.liu@gmail.com", "noreply.liu@gmail.com"),
    ("客户邮箱 zhang.san@gmail.com:VIP/续费", "zhang.san@gmail.com"),  # prose after ':'
    ("zhao.lei@example.com:客户", "zhao.lei@example.com"),
]


@pytest.mark.parametrize("text", EMAIL_NEGATIVES)
def test_service_addresses_are_not_email_findings(text):
    assert values(text, "EMAIL_ADDRESS") == []


@pytest.mark.parametrize(("text", "value"), EMAIL_POSITIVES)
def test_mailboxes_are_found(text, value):
    assert values(text, "EMAIL_ADDRESS") == [value]


# --- technical terms, header names, product, bank, organisation, role and job-title words
PERSON_NEGATIVES = [
    ("公司副总经理负责此事", ()),
    ("我们公司总经理明天到", ()),
    ("请联系客户经理", ()),
    ("部门经理会后回复", ()),
    ("产品经理说下周上线", ()),
    ("Please contact the Project Manager at 555-123-4567", ()),
    ("Ask the Sales Director, tel 555-123-4567", ()),
    ("Idempotency-Key: 8c1f 4411 2233 Content-Type: application/json", ()),
    ("Idempotency-Key", ("request", "details", "headers", "name")),
    ("Content-Type", ("headers", "name")),
    ("Default", ("name",)),
    ("T-shirt", ("name",)),
    ("Custom IP Blocklist", ("name",)),
    ("Marketing Team", ("usergroups", "name")),
    ("Team Admins", ("usergroups", "name")),
    ("Umbrella Corporation", ("team", "enterprise", "name")),
    ("Rocket Rides", ("merchant", "data", "name")),
    ("Marketing Team", ("name",)),  # an organisation's head word, even under a name field
    ("Acme Holdings", ("customer", "name")),
    ("Thanks Jane, call 555-123-4567", ()),  # 'Thanks' starts a sentence, no name does
    ("招商银行", ("name",)),
    ("管理员", ("客户",)),
    ("司机", ("联系人",)),
    # a model's names that structure rules out: identifiers, log labels, user-agent tokens
    ("FileName: a.txt Speed: 1 KB/s Progress: 100% StatusDesc: dest agent success download "
     "file Detail: success", ("log", "content")),
    ("SlackWeb Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_2) AppleWebKit/600.3.18",
     ("user", "agent")),
    ("Your order has shipped to 45801 Peter Lodge, North Johnborough, NM 33159.", ()),  # streets
    # a state and its ZIP code (the model read 'MO 14856.'): a span with digits is no name
    ("Your order has shipped to 1123 Tran Parkways, Lake Isabella, MO 14856. Questions? "
     "Call 728.742.8100.", ()),
]
PERSON_POSITIVES = [
    ("请王先生到前台", (), "王"),
    ("李明女士您好", (), "李明"),
    ("王经理你好", (), "王"),
    ("张总经理说明天到", (), "张"),
    ("欧阳先生您好", (), "欧阳"),
    ("联系人：王芳，销售经理", (), "王芳"),
    ("Jenny Rosen", ("customer", "name"), "Jenny Rosen"),
    ("Jane Doe", ("name",), "Jane Doe"),
    ("Smith", ("last_name",), "Smith"),
    ("Mary-Jane", ("first_name",), "Mary-Jane"),
    ("高利", ("sender", "name"), "高利"),
    ("张伟", ("name",), "张伟"),
    ("Egon Spengler", ("user", "profile", "real", "name"), "Egon Spengler"),
    ("Please call John Miller at 555-123-4567", (), "John Miller"),
    ("合同已寄出，请查收。\n\n此致\n黄海燕\n", (), "黄海燕"),  # 黄海 is a sea, 黄海燕 a name
    # surnames that are words: under a name field or label only an organisation is refused
    ("George Best", ("customer", "name"), "George Best"),
    ("Edward Head", ("customer", "name"), "Edward Head"),
    ("Picabo Street", ("customer", "name"), "Picabo Street"),
    ("Megan Good", ("customer", "name"), "Megan Good"),
    ("Francis Key", ("customer", "name"), "Francis Key"),
    ("Sarah Partner", ("customer", "name"), "Sarah Partner"),
    ("Best", ("lastName",), "Best"),
    ("Name: Sarah Partner", (), "Sarah Partner"),
    ("name,phone\nGeorge Best,13800138000", (), "George Best"),  # a name column
    # in prose too, when not every word is a role or label word
    ("Edward Head called from 555-123-4567 yesterday", (), "Edward Head"),
]


@pytest.mark.parametrize(("text", "context"), PERSON_NEGATIVES)
def test_terms_titles_and_organisations_are_not_names(text, context):
    assert values(text, "PERSON", context) == []


# A field of study before a title is no name (皮肤|学 教授); the professor's name may be found,
# but only exactly.
FIELD_OF_STUDY = [
    ("加拿大多伦多大学的皮肤学教授索菲亚", "索菲亚"),
    ("她是省医院请来的皮肤学教授周雅琴", "周雅琴"),
]


@pytest.mark.parametrize(("text", "name"), FIELD_OF_STUDY)
def test_a_field_of_study_is_not_a_name(text, name):
    assert set(values(text, "PERSON")) <= {name}


@pytest.mark.parametrize(("text", "context", "value"), PERSON_POSITIVES)
def test_names_are_still_found(text, context, value):
    assert values(text, "PERSON", context) == [value]


# A shop, brand, product or place the NER model reads as a person: what follows it says it is
# a thing (its shop, stock, co-branded item, headquarters, project), also when the model left
# part of the brand out (汤臣|倍健, 徐福|记) or it is one item of a list (X和Y的联名款).
# Brands named after their founders included: in these sentences they are the brand.
BRAND_NEGATIVES = [
    "林清轩的门店下个月装修",
    "王守义的库存只够三天",
    "陈克明和海天的联名款卖完了",
    "高德地图的新品发布会在下午",
    "汤臣倍健的总部在珠海",
    "上周去了吴江的专卖店，人很多",
    "张一元项目的预算批了",
    "徐福记的新品下周发布",
    "杨铭宇和黄天鹅的联名款下周上线",
    # jieba's name-like word near a number (person.near_other_data), not only the model's
    "请在月底前完成林清轩项目的验收，合同编号369867614070262802。",
]
# People in the same sentences: a verb or particle after the name starts the next word (李娜|在
# 门店), what people have (的公司, 的项目, 的手机) is no thing's noun.
BRAND_SHAPED_NAMES = [
    ("李娜在门店等你", ("李娜",)),
    ("王建国的公司今年上市了", ("王建国",)),
    ("张伟和李娜的项目下周验收", ("张伟", "李娜")),
    ("王小明的手机坏了", ("王小明",)),
    ("张伟和李娜明天下午来开会", ("张伟", "李娜")),
    # next to a customer's phone the name reading wins: a person's shop, a project's manager
    ("王芳的门店电话是13800138000", ("王芳",)),
    ("张伟项目经理的电话13800138000", ("张伟",)),
]


@pytest.mark.parametrize("text", BRAND_NEGATIVES)
def test_brands_and_places_in_business_text_are_not_names(text):
    assert values(text, "PERSON") == []


@pytest.mark.parametrize(("text", "names"), BRAND_SHAPED_NAMES)
def test_names_before_shop_words_are_still_found(text, names):
    assert tuple(values(text, "PERSON")) == names


# A software object's name under a bare ``name`` field or in a summary (schedules, plugins,
# webhooks, reports: what OpenAPI examples are full of), by its head word; a known first name
# first keeps a person whose surname is such a word (Larry Page).
OBJECT_NAMES = [
    ("Night Shift", ("schedule_layers", "name")),
    ("Daily Engineering Rotation", ("name",)),
    ("Internal Status Page", ("name",)),
    ("Demo Plugin", ("data", "apis", "name")),
    ("Service Runbook", ("name",)),
    ("Weekly Sales Report", ("name",)),
    ("Quarterly Billing Campaign", ("name",)),
    ("Generic Webhook", ("summary",)),  # the model's guess
    # abbreviated things in API field names (BlueKing CMDB/Job/NodeMan): a business, a set
    ("蓝鲸", ("data", "list", "bk_biz_name")),
    ("蓝鲸", ("bk_set_name",)),
    ("Default Template", ("template_name",)),
    # a product's CamelCase word: no one is named so (McDonald, LaToya are: Mc, La)
    ("PagerDuty Admin", ("point_of_contact",)),
    ("Amazon CloudWatch", ("name",)),
    ("Updated ServiceNow Integration", ("oauth_client", "name")),
]
PEOPLE_WITH_OBJECT_WORDS = [
    ("Larry Page", ("name",), "Larry Page"),
    ("Jimmy Page", ("customer", "name"), "Jimmy Page"),
    ("Hans-Dieter Rule", ("name",), "Hans-Dieter Rule"),
    ("Mia Schedule", ("name",), "Mia Schedule"),
    ("Kyler Kuhn", ("name",), "Kyler Kuhn"),  # a first name the census list lacks
    ("Resolved by Earline Greenholt", ("summary",), "Earline Greenholt"),
    ("LaToya McDonald", ("name",), "LaToya McDonald"),
    ("Douglas MacArthur", ("customer", "name"), "Douglas MacArthur"),
    ("DeShawn Jackson", ("name",), "DeShawn Jackson"),
    ("王芳", ("dept", "contact_name"), "王芳"),
    ("李娜", ("instructor_name",), "李娜"),
]


@pytest.mark.parametrize(("text", "context"), OBJECT_NAMES)
def test_object_names_are_not_people(text, context):
    assert values(text, "PERSON", context) == []


@pytest.mark.parametrize(("text", "context", "value"), PEOPLE_WITH_OBJECT_WORDS)
def test_people_named_like_objects_are_found(text, context, value):
    assert values(text, "PERSON", context) == [value]


# --- resident IDs: an 18-digit number labelled as another kind of number (an order's, a
# contract's, a batch's), or under such a column, is that number even when province, birth
# date and check pass by chance (these four do)
ID_NEGATIVES = [
    "合同编号620102198001015678，请在月底前完成验收",
    "流水号：464682192707140185 对账不平",
    "Order No. 350203199107231126 shipped",
    "日期,商品,单号\n2024-11-03,格力,464682192707140185\n2024-11-04,美的,620102198001015678",
    "date,sku,ref\n2024-11-03,SKU-4004-313,464682192707140185",
]
ID_POSITIVES = [
    ("订单号 2026103036031，身份证11010519491231002X", "11010519491231002X"),
    ("身份证编号620102198001015678", "620102198001015678"),
    ("证件编号：350203199107231126", "350203199107231126"),
    ("姓名,证件编号\n张三,464682192707140185", "464682192707140185"),
    ("620102198001015678", "620102198001015678"),
]


# ... by its field name or its CSV column (a CSV row arrives with the header as context)
ID_FIELD_NEGATIVES = [
    ("464682192707140185", ("order_no",)),
    ("620102198001015678", ("shipment", "trackingNumber")),
    ("2024-11-03,SKU-4004-313,格力,27,7277.95,464682192707140185",
     ("date", "sku", "store", "qty", "amount", "ref")),
    ("2024-11-03,格力,464682192707140185", ("日期", "商品", "单号")),
]
ID_FIELD_POSITIVES = [
    ("464682192707140185", ("order", "buyer", "id_card"), "464682192707140185"),
    ("张三,464682192707140185,13800138000", ("name", "idNo", "phone"), "464682192707140185"),
    ("2024-11-03,620102198001015678", ("date", "证件号码"), "620102198001015678"),
    ("客户身份证620102198001015678", ("order", "remark"), "620102198001015678"),
]


@pytest.mark.parametrize("text", ID_NEGATIVES)
def test_other_numbers_are_not_resident_ids(text):
    assert values(text, "CN_RESIDENT_ID") == []


@pytest.mark.parametrize(("text", "context"), ID_FIELD_NEGATIVES)
def test_other_number_fields_hold_no_resident_ids(text, context):
    assert values(text, "CN_RESIDENT_ID", context) == []


@pytest.mark.parametrize(("text", "context", "value"), ID_FIELD_POSITIVES)
def test_resident_ids_in_their_fields_are_found(text, context, value):
    assert values(text, "CN_RESIDENT_ID", context) == [value]


@pytest.mark.parametrize(("text", "value"), ID_POSITIVES)
def test_resident_ids_are_found(text, value):
    assert values(text, "CN_RESIDENT_ID") == [value]


# --- organisation codes (USCC): characters 3-8 are a region, so a resident-ID-shaped number
# whose check character happens to pass GB 32100's (~1 in 31) is no code: its "region" starts
# with the ID's district digits (010519, 050619), not a province.
USCC_NEGATIVES = [
    "批次 11010519491231002B 已入库",
    "ref 32050619770303456M",
    "Lot 42010619790707111T shipped",
    "Batch 15010219740104360X contains 229 units",
]
USCC_POSITIVES = [
    ("91350100M000100Y43", "91350100M000100Y43"),
    ("供应商 91440300MA5F8GJX23 已审核", "91440300MA5F8GJX23"),
    ("11100000MB0160266W", "11100000MB0160266W"),  # region 100000: a central government body
    ("税号 913501001234500041", "913501001234500041"),
]


@pytest.mark.parametrize("text", USCC_NEGATIVES)
def test_id_shaped_numbers_are_not_organisation_codes(text):
    assert values(text, "CN_USCC") == []


@pytest.mark.parametrize(("text", "value"), USCC_POSITIVES)
def test_organisation_codes_are_found(text, value):
    assert values(text, "CN_USCC") == [value]


# --- Chinese postal addresses: exact boundaries, in sentences, across separators
ADDRESSES = [
    ("住在北京市朝阳区建国路88号，明天发货", "北京市朝阳区建国路88号"),
    ("客户反馈温州市瓯海区郭溪镇富达路93号的快递三天没到", "温州市瓯海区郭溪镇富达路93号"),
    ("收货地址：浙江省杭州市西湖区文三路478号华星时代广场A座 1203室，请尽快发货",
     "浙江省杭州市西湖区文三路478号华星时代广场A座 1203室"),
    ("广东省广州市天河区天河路385号太古汇一座3-2-501，联系人张三",
     "广东省广州市天河区天河路385号太古汇一座3-2-501"),
    ("地址：河北省保定市涞水县永阳镇北义安村三组", "河北省保定市涞水县永阳镇北义安村三组"),
    ("四川省成都市武侯区人民南路四段27号商鼎国际1栋2单元1803",
     "四川省成都市武侯区人民南路四段27号商鼎国际1栋2单元1803"),
    ("已核实该用户地址为海曙区维科上院13-52-972室，与身份证登记地址不一致。",
     "海曙区维科上院13-52-972室"),
    ("寄到上海市浦东新区张江路123弄4号502室，谢谢", "上海市浦东新区张江路123弄4号502室"),
    ("收货地址：浙江省杭州市西湖区文三路 478 号华星时代广场 A 座 1203 室，请尽快发货",
     "浙江省杭州市西湖区文三路 478 号华星时代广场 A 座 1203 室"),
    ("张三,13800138000,吉林省长春市朝阳区红旗街49号12栋5单元1575室,610430196409299716",
     "吉林省长春市朝阳区红旗街49号12栋5单元1575室"),  # the next CSV cell is not swallowed
    ("江干区五福新村123-10-446", "江干区五福新村123-10-446"),
    ("浙江省金华市义乌市江东街道前成小区16--7--426", "浙江省金华市义乌市江东街道前成小区16--7--426"),
    ("样品寄往江苏省宜兴市丁蜀镇第二人民医院。", "江苏省宜兴市丁蜀镇第二人民医院"),
    ("寄到余杭区乔司镇城隍中路1168，谢谢", "余杭区乔司镇城隍中路1168"),  # no 号
    ("我住在温州乐清市柳市镇吕岙村安河电器，离地铁站走路十分钟。", "温州乐清市柳市镇吕岙村安河电器"),
    ("新地址是温州经济技术开发区沙城安兴路213号九楼，以后的发票都寄这里",
     "温州经济技术开发区沙城安兴路213号九楼"),
    ("我住在温州市柳市镇柳黄路曹田工业区，离地铁站走路十分钟。", "温州市柳市镇柳黄路曹田工业区"),
    ("浙江省淳安县千岛湖镇新安西路七号", "浙江省淳安县千岛湖镇新安西路七号"),
    ("麻烦改一下配送地址为南大路483号中国移动阿旺手机专卖店；原地址作废。",
     "南大路483号中国移动阿旺手机专卖店"),
    ("上门安装地址新塘路132号党校门卫室（周六上午有人）", "新塘路132号党校门卫室"),
    ("明天下午去浙江省杭州市滨江区西兴街道宏图路84号拜访客户，带上样品",
     "浙江省杭州市滨江区西兴街道宏图路84号"),
    ("ship to 576 Kayla Ports, Harrisville, MI 03666.", "576 Kayla Ports, Harrisville, MI 03666"),
    ("1600 Pennsylvania Ave NW, Washington, DC 20500", "1600 Pennsylvania Ave NW, Washington, DC 20500"),
    # the clause after the number is no building's name: verbs, pronouns, particles, cues
    ("他住在浙江省宁波市鄞州区碧波路690号5幢201室然后每天去公司上班",
     "浙江省宁波市鄞州区碧波路690号5幢201室"),
    ("新家在杭州市滨江区江南大道3888号2501室我们明天上午去医院",
     "杭州市滨江区江南大道3888号2501室"),
    ("店在杭州市西湖区文三路90号旁边有个超市", "杭州市西湖区文三路90号"),
    ("办公室在深圳市南山区科苑路15号这家公司", "深圳市南山区科苑路15号"),
    ("湖南省长沙市宁乡县花明楼镇刘家村五组的老乡都来了", "湖南省长沙市宁乡县花明楼镇刘家村五组"),
    ("寄到上海市徐汇区漕溪北路88号1201室收件人周莉", "上海市徐汇区漕溪北路88号1201室"),
    ("寄到上海市徐汇区漕溪北路88号1201室电话13800138000", "上海市徐汇区漕溪北路88号1201室"),
    # an estate named after a surname: jieba tags the lone surname as anything (刘 zg, 涂 v)
    ("寄到湖南省长沙市岳麓区麓山路85号刘小区6号楼1203室，谢谢",
     "湖南省长沙市岳麓区麓山路85号刘小区6号楼1203室"),
    ("寄到湖南省长沙市岳麓区麓山路85号涂小区6号楼1203室，谢谢",
     "湖南省长沙市岳麓区麓山路85号涂小区6号楼1203室"),
    # admin levels written apart join the address
    ("浙江省/杭州市/西湖区/文三路90号", "浙江省/杭州市/西湖区/文三路90号"),
    ("浙江省 杭州市 西湖区 文三路 90 号 3 幢 201 室", "浙江省 杭州市 西湖区 文三路 90 号 3 幢 201 室"),
    ("请寄往江苏省、南京市、鼓楼区中山路321号", "江苏省、南京市、鼓楼区中山路321号"),
    # jieba glues a cue to the place name (为宗汉街, 是靖城, 去皋): the cue is not the address's
    # (the first one was an empty span: detection failed)
    ("地址为宗汉街道潮塘横路85号，请核对", "宗汉街道潮塘横路85号"),
    ("地址为宗汉街道潮塘工业园区西区潮塘横路857号，与身份证登记地址不一致。",
     "宗汉街道潮塘工业园区西区潮塘横路857号"),
    ("新地址是靖城街道浦滨大道12号，谢谢", "靖城街道浦滨大道12号"),
    ("明天下午去皋埠镇临江路18号拜访客户", "皋埠镇临江路18号"),
    ("寄到和平路88号，谢谢", "和平路88号"),  # 和 is a cue only when jieba glued it
    ("请把合同寄到化工路32巷9号366室，收到后回电", "化工路32巷9号366室"),  # a lane's road
    # a building's name before its numbered unit, whatever jieba calls its words
    ("明天去安定门东大街10号雍和大厦A座926室拜访", "安定门东大街10号雍和大厦A座926室"),
    ("寄到清江路90号九天国际12楼522，谢谢", "清江路90号九天国际12楼522"),
    # an organisation after the number: its nouns up to the clause, or a name ending in 公司/支行
    ("客户反馈温岭市滨海镇新农村76号浙味食品的快递没到", "温岭市滨海镇新农村76号浙味食品"),
    ("新地址是川浦路95号宁波远成设备制造有限公司，以后寄这里", "川浦路95号宁波远成设备制造有限公司"),
    ("寄到温岭市万昌中路14号中国银行温岭支行，谢谢", "温岭市万昌中路14号中国银行温岭支行"),
    # an estate or building with a numbered building or room after it, no road needed
    ("寄到义乌福田大厦A座3775，谢谢", "义乌福田大厦A座3775"),
    ("新家在上城区望江家园14幢1910，周末搬", "上城区望江家园14幢1910"),
    ("请送到近江时代大厦b座33楼，前台签收", "近江时代大厦b座33楼"),
    # an admin level, a road and a named building on it, no number
    ("快递送到潮鸣街道建国北路华源发展大厦，谢谢", "潮鸣街道建国北路华源发展大厦"),
    # an estate's name of common nouns runs back to the cue (花样|年美年广场), but nothing
    # before an admin level is the address's (订单|温州市, 公司宿舍|杭州市)
    ("新地址是花样年美年广场7栋708，以后寄这里", "花样年美年广场7栋708"),
    ("客户反馈订单温州市瓯海区郭溪镇富达路93号的快递没到", "温州市瓯海区郭溪镇富达路93号"),
    ("寄到公司宿舍杭州市西湖区文三路90号", "杭州市西湖区文三路90号"),
    # units: a shop (1131铺), a village's group (2社, as 三组), a gate (3号门)
    ("我住在广东省江门市蓬江区丰泰路109号1131铺，离地铁站很近", "广东省江门市蓬江区丰泰路109号1131铺"),
    ("新地址是四川省宜宾市南溪区罗龙镇红光村2社，以后寄这里", "四川省宜宾市南溪区罗龙镇红光村2社"),
    ("上门地址天城路范家苑小区14栋8单元3号门（周六有人）", "天城路范家苑小区14栋8单元3号门"),
    # a zone of the estate (西区, 二区) is no district: the address starts at the estate
    ("寄到碧水苑小区西区14幢301室，谢谢", "碧水苑小区西区14幢301室"),
    ("寄到天津市河西区友谊路35号，谢谢", "天津市河西区友谊路35号"),  # 河西区 is one
    # ... but not a person, a pronoun, a particle or a time word after it
    ("寄到上海市徐汇区漕溪北路88号1201室张伟收", "上海市徐汇区漕溪北路88号1201室"),
    ("店在杭州市西湖区文三路90号我们公司楼下", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号旁边的医院，谢谢", "杭州市西湖区文三路90号"),
    ("家里搬到杭州市西湖区文三路90号以后，上班近了", "杭州市西湖区文三路90号"),
]
NOT_ADDRESSES = [
    "北京 上海 北京市朝阳区",
    "我在超市买了3号电池",
    "请于3号楼前集合，离地铁站走路十分钟",
    "上海市2024-05-20发布",  # a date after a city is no building-unit-room
    "杭州市电话0571-8888-8888",
    "上海市南京路2024年的客流量",  # a year after a road is no house number
    "便利的交通，使本区成为台中市区与大里新村往来的要道",  # 本区, 市区: areas, no districts
    "游客们把这里叫作“闹市里的乡村”。",  # 乡村 is the countryside, not a township
    "湖南省和岳阳市水利部门已在洪水灾区组织了防汛技术培训",  # 组织, not a village group
    "走进湖北枣阳县吴店镇的陈国强的公司的大门",  # a place and a company, no address
    "会议在市民中心召开，请准时参加",  # an estate word without a number
    "上海市南京路步行街人很多",  # a road and no building on it
    "请到3号门集合",
    "他在杭州市西湖区文三路上班",
    "公司在国际金融中心工作，离家很近",
]


@pytest.mark.parametrize(("text", "value"), ADDRESSES)
def test_address_boundaries(text, value):
    assert values(text, "ADDRESS") == [value]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_not_addresses(text):
    assert values(text, "ADDRESS") == []
