<?php
header("Content-Type: text/html; charset=UTF-8");
require_once('wdtsdk.php');
 
$client = new WdtErpClient("url", "wdtapi3", "appkey", "secret"); 
$refundInfo = array(
'tid' => 'pos-6776312',
//'return_logistics_no' => 'apopopopopopopopopopu',// 必须传入,并且必须有值
//'return_logistics_name' => '',// 可以为空
'return_warehouse_no' => 'pos',
'remark' => 'pos refundInfo remark',
);
 
$detailMap1 = array(
'spec_no' => 'RRWDMS018040S',// 'spec_id' => 18113, test_001
//'defect' => false,
//'refund_num' => 1,
'stockin_num' => 1,
'remark' => 'POS 退货测试' // 详情的退货备注
);
 
$detailMapList = array();
array_push($detailMapList,  $detailMap1);
 
$createPreStockin = false;
$data = $client->call("wms.stockin.SmartRefund.upload",$refundInfo, $detailMapList, $createPreStockin);
echo json_encode($data, JSON_UNESCAPED_UNICODE|JSON_PRETTY_PRINT);
?>
