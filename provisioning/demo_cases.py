"""Case stems for the demo bank: A2 items (one case, one question, 150-400 characters) and
A3 groups (one shared case, 2-3 questions), per category, the length and shape of real
测评 items. Text is assembled from clinical fragments; it is demo data, never medicine."""
from __future__ import annotations

import random

A2_MIN, A2_MAX = 150, 400      # characters of a case stem (A2/A3), from real papers

# Per category: (presenting complaints, history, findings, tests, questions).
FRAGMENTS = {
    "临床": (
        ("反复活动后胸闷、气促{n}年，加重伴双下肢水肿1周", "突发胸骨后压榨样疼痛{n}小时，伴大汗、恶心",
         "咳嗽、咳黄脓痰伴发热{n}天，体温最高39.2℃", "上腹部隐痛{n}个月，进食后加重，伴反酸、嗳气",
         "多饮、多尿、体重下降{n}个月", "右下腹痛{n}小时，起初为脐周痛，后转移至右下腹"),
        ("既往高血压病史{m}年，规律服用氨氯地平", "有2型糖尿病病史{m}年，近期血糖控制欠佳",
         "吸烟{m}年，每日约20支，否认药物过敏史", "有慢性胃炎病史{m}年，间断服用抑酸药物",
         "其父有冠心病史，本人否认手术外伤史"),
        ("查体：T 37.{d}℃，P {p}次/分，R 2{d}次/分，BP 1{b}{d}/9{d} mmHg，神志清楚，口唇轻度发绀",
         "查体：颈静脉怒张，双肺底可闻及湿啰音，心界向左下扩大，心律绝对不齐，心音强弱不等",
         "查体：右下肺叩诊浊音，可闻及支气管呼吸音，腹软，肝脾肋下未触及",
         "查体：麦氏点压痛及反跳痛阳性，腹肌稍紧张，肠鸣音减弱"),
        ("血常规：WBC 1{d}.{b}×10⁹/L，N 0.8{d}；血肌钙蛋白I升高；心电图见图",
         "空腹血糖 1{d}.{b} mmol/L，糖化血红蛋白 9.{d}%，尿酮体（+）",
         "胸部X线片见图，C反应蛋白 8{d} mg/L", "腹部超声：阑尾增粗，直径约1.{d} cm，周围少量积液"),
        ("该患者最可能的诊断是", "为明确诊断，首选的检查是", "目前最恰当的治疗措施是",
         "该患者最常见的并发症是", "下列处理中错误的是"),
    ),
    "中医": (
        ("咳嗽{n}周，痰黄黏稠，咯吐不爽", "胃脘胀痛{n}个月，痛连两胁，嗳气频作", "失眠多梦{n}个月，心悸健忘",
         "腰膝酸软、头晕耳鸣{n}年", "月经后期{n}个月，量少色淡"),
        ("平素性情急躁，遇情志不畅时症状加重", "素体虚弱，易感冒，劳累后诸症加重", "嗜食肥甘厚味，形体偏胖",
         "病后调养失宜，饮食减少"),
        ("舌红，苔薄黄，脉弦数", "舌淡胖有齿痕，苔白腻，脉濡缓", "舌红少苔，脉细数", "舌暗有瘀点，苔薄白，脉涩"),
        ("伴口苦咽干，大便干结，小便短赤", "伴神疲乏力，面色萎黄，大便溏薄", "伴五心烦热，盗汗，口干不欲饮",
         "曾自服中成药{n}周，症状时轻时重，近{n}日因劳累加重，夜间尤甚",
         "纳差，脘腹痞闷，食后尤甚，时有恶心，口中黏腻不爽，渴不欲饮",
         "形寒肢冷，小便清长，夜尿{n}次，晨起面浮，下肢按之凹陷"),
        ("其辨证是", "治法宜选", "首选的方剂是", "针灸治疗首选的穴位是", "下列用药中不宜使用的是"),
    ),
    "口腔": (
        ("右下后牙冷热刺激痛{n}周，刺激去除后疼痛持续数分钟", "牙龈反复出血{n}年，刷牙时明显",
         "左侧下颌智齿区肿痛{n}天，张口受限", "上前牙外伤{n}小时，牙冠折断"),
        ("既往无系统性疾病史，否认药物过敏史", "有吸烟史{m}年，口腔卫生习惯较差", "曾于外院行该牙充填治疗"),
        ("检查：右下第一磨牙远中邻面深龋，探诊敏感，叩诊（±），冷测引起剧痛并持续",
         "检查：全口牙龈红肿，探诊出血，探诊深度4～6 mm，附着丧失2～4 mm，X线片见图",
         "检查：左下第三磨牙近中阻生，冠周牙龈红肿，盲袋内有脓性分泌物溢出"),
        ("全口曲面断层片见图", "牙髓电活力测试较对照牙敏感", "局部淋巴结肿大、压痛",
         "患牙松动Ⅰ度，叩痛（+），牙龈未见窦道，邻牙未见明显异常",
         "口腔卫生状况差，全口可见菌斑及牙石堆积，软垢指数2～3",
         "患者自述夜间痛明显，不能指出患牙位置，服用止痛药后稍缓解"),
        ("最可能的诊断是", "首选的治疗方法是", "该病最主要的致病因素是", "下一步处理应为"),
    ),
    "公共卫生": (
        ("某县疾控中心接到报告，某中学{n}天内先后出现腹泻、呕吐学生", "某社区在{n}周内报告发热伴皮疹病例",
         "某工厂车间工人陆续出现头痛、乏力、肢体麻木", "某乡镇开展高血压患病率调查，抽取居民{n}千人"),
        ("病例多在同一食堂就餐，首例发病至末例发病间隔约{m}天", "该社区儿童疫苗接种率约为8{d}%",
         "该车间使用含正己烷的清洗剂，通风条件差", "调查采用多阶段整群随机抽样方法"),
        ("按发病日期绘制的流行曲线见图", "现场调查共发现病例{p}例，罹患率约为{d}.{b}%",
         "车间空气中有害物质浓度超过职业接触限值", "调查获得有效问卷{p}0份"),
        ("部分病例粪便标本检出同一病原体", "对照组与病例组在暴露比例上差异有统计学意义",
         "当地气温持续偏高，学校饮用水为自备井水，近期未进行消毒检测",
         "所有病例均为就诊后被动报告，未开展主动搜索，部分轻症病例可能未被发现",
         "调查员经统一培训，问卷包括人口学特征、暴露史、症状及就诊情况等内容"),
        ("最可能的流行类型是", "应首先采取的控制措施是", "该研究属于", "计算该指标应选用的分母是",
         "下列说法正确的是"),
    ),
}


def _fill(text: str, rng: random.Random) -> str:
    return text.format(n=rng.randint(2, 9), m=rng.randint(3, 20), d=rng.randint(1, 9),
                       b=rng.randint(1, 9), p=rng.randint(62, 118))


def case_text(category: str, rng: random.Random, with_image: bool = False) -> str:
    """One case (the shared part of an A2 stem or an A3 group): complaint and history, then
    distinct findings and test results until a length drawn from the range of real stems."""
    complaints, history, findings, tests, _ = FRAGMENTS[category]
    target = rng.randint(A2_MIN, A2_MAX - 40)
    if category == "公共卫生":
        text = _fill(rng.choice(complaints), rng) + "。"
    else:
        text = f"患者，{rng.choice(('男', '女'))}，{rng.randint(28, 76)}岁。" + _fill(rng.choice(complaints), rng) + "。"
    text += _fill(rng.choice(history), rng) + "。"
    more = rng.sample(findings, len(findings)) + rng.sample(tests, len(tests))
    if with_image:                                  # the test that shows the image is always said
        more.sort(key=lambda f: "见图" not in f)
    for part in more:
        if len(text) >= target and not (with_image and "见图" not in text):
            break
        if "见图" in part and ("见图" in text or not with_image):
            continue                                # one image per item, and only if it has one
        text += _fill(part, rng) + "。"
    return text[: A2_MAX - 30]


def a2_stem(category: str, rng: random.Random, with_image: bool = False) -> str:
    question = rng.choice(FRAGMENTS[category][4])
    return case_text(category, rng, with_image) + ("（见图）" if with_image else "") + question


def a3_group(category: str, rng: random.Random, size: int) -> list[str]:
    """Stems of one A3 group: each repeats the shared case (a question may be shown alone,
    e.g. when a paper draws only part of the group), then its own question."""
    case = case_text(category, rng)
    questions = rng.sample(FRAGMENTS[category][4], size)
    return [f"（共用题干）{case}\n（第{k + 1}问，共{size}问）{q}" for k, q in enumerate(questions)]
